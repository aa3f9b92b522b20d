package conductortest

// Probes for this package's own tests only; they are not part of the public
// API.

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
