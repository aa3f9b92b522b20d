package conductortest

import "time"

// Probes and a clock for this package's own tests only; they are not part of
// the public API.

// Waiting returns how many long polls are parked on the queue of taskType
// in domain ("" = no domain).
func (s *Server) Waiting(taskType, domain string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[queueName(taskType, domain)]; q != nil {
		return len(q.waiters)
	}
	return 0
}

// SlotWaiters returns how many requests wait for a WithMaxConcurrentRequests
// slot.
func (s *Server) SlotWaiters() int { return int(s.slotWaiters.Load()) }

// WithStoppedClock stops the server's clock at the time the option is made:
// it moves only with Advance. Timeouts, retry delays, callbacks and long-poll
// deadlines then fall due when the test advances the clock past them and at
// no other time, however slowly the test runs.
func WithStoppedClock() Option {
	at := time.Now()
	return func(o *options) { o.clock = func() time.Time { return at } }
}
