package conductortest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/baton-go/baton/sdk/conductortest/internal/wire"
)

// WithLongPoll sets, by name, how a batch poll with a timeout waits for
// tasks. Conductor servers differ here by version and by queue store, and a
// worker's polling strategy should be tested against the one it will meet.
// In every mode a poll with timeout 0 answers at once with what is
// available. The names (cmd/conductor-dev's -long-poll takes the same):
//
//   - "early" answers as soon as at least one task is due, with up to count
//     tasks, else when the timeout ends. Conductor 3.32 with Redis queues
//     (io.orkes.conductor.mq) does this.
//   - "full-batch" takes due tasks off the queue every 100 ms during the
//     wait, keeping them, and answers at the first 100 ms step at which it
//     holds count tasks, or at the first step at or after the timeout with
//     what it holds. A poll for one task wakes within 100 ms of a task
//     becoming due; a poll for ten with three available waits the whole
//     timeout and returns the three. This is SqliteQueueDAO.pollMessages
//     (Conductor 3.32's default store) and PostgresQueueDAO.pollMessages
//     (the same loop), and MySQL's is alike.
//   - "hold" answers at once if count tasks are due when the poll starts;
//     otherwise it waits the whole timeout and then answers with the tasks
//     that were due when it started (up to count). Tasks that become due
//     during the wait stay queued for the next poll. Conductor 3.21 with its
//     Redis queues (dyno-queues) does this: a poll for one task on an empty
//     queue returns nothing after the full timeout even when a task is
//     scheduled 300 ms into it.
//   - "default" (or "", as without WithLongPoll) is the version profile's
//     mode: "full-batch" for 3.32 (the default profile), "hold" with
//     WithVersion(Version321).
//
// Start (and NewServer) refuse any other name.
func WithLongPoll(mode string) Option { return func(o *options) { o.longPollName = mode } }

// longPollMode is a WithLongPoll mode, resolved from its name.
type longPollMode int

const (
	longPollDefault longPollMode = iota
	longPollEarly
	longPollFullBatch
	longPollHold
)

// longPollNames are the WithLongPoll names, by mode.
var longPollNames = [...]string{
	longPollDefault:   "default",
	longPollEarly:     "early",
	longPollFullBatch: "full-batch",
	longPollHold:      "hold",
}

// parseLongPoll resolves a WithLongPoll name ("" is "default").
func parseLongPoll(name string) (longPollMode, error) {
	return parseName[longPollMode]("long-poll mode", name, longPollNames[:])
}

// parseName resolves name to its index in names, the option's values in
// the order of its constants; "" is the first.
func parseName[T ~int](what, name string, names []string) (T, error) {
	if name == "" {
		return 0, nil
	}
	if i := slices.Index(names, name); i >= 0 {
		return T(i), nil
	}
	return 0, fmt.Errorf("%s %q: want one of %s", what, name, strings.Join(names, ", "))
}

// WithMaxConcurrentRequests makes the server handle at most n requests at a
// time; further requests wait, in arrival order, for one to finish. Real
// servers run on a bounded thread pool (Spring Boot's Tomcat: 200 threads
// unless server.tomcat.threads.max says otherwise), so a worker that keeps
// too many long polls open delays everyone's requests, its own updates
// included. With n = 0 (the default) the number is unbounded, so that load
// generators and benchmarks measure the server rather than the pool; pass
// 200 to see what a stock server does.
func WithMaxConcurrentRequests(n int) Option { return func(o *options) { o.maxRequests = n } }

// fullBatchStep is the pause between two pops of a full-batch long poll
// (Uninterruptibles.sleepUninterruptibly(100, MILLISECONDS) in the DAOs).
const fullBatchStep = 100 * time.Millisecond

// longPollMode resolves the "default" mode.
func (s *Server) longPollMode() longPollMode {
	if s.opts.longPoll == longPollDefault {
		if s.is321() {
			return longPollHold
		}
		return longPollFullBatch
	}
	return s.opts.longPoll
}

// pollHeld is a long poll in the full-batch or hold mode: tasks are taken
// off the queue first and marked IN_PROGRESS only when the answer is made,
// as the real server's DAO pops queue messages during the wait and its
// ExecutionService then loads and starts the tasks (concurrency and rate
// limits are applied then too). If the client goes away or the server
// closes during the wait, the taken tasks go back to the front of the
// queue (the real server would hand them to the closed connection and
// leave them to their response timeout). Caller holds s.mu; it is held
// again on return.
func (s *Server) pollHeld(ctx context.Context, q *queue, mode longPollMode, count int, workerID string, now time.Time, timeout time.Duration) []wire.Task {
	start := now
	deadline := start.Add(timeout)
	if mode == longPollFullBatch {
		// The loop notices the timeout only after a pop, i.e. on a step.
		steps := (timeout + fullBatchStep - 1) / fullBatchStep
		deadline = start.Add(steps * fullBatchStep)
	}
	held := s.take(q, count, now, nil)
	var (
		ch    chan struct{}
		timer *time.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// sleep waits up to d, or until the queue changes (when wake is true),
	// and reports false when the poll must give up. It unlocks s.mu while
	// waiting.
	sleep := func(d time.Duration, wake bool) bool {
		if wake {
			if ch == nil {
				ch = make(chan struct{}, 1)
			}
			q.waiters = append(q.waiters, ch)
		}
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		ok := true
		select {
		case <-ch: // nil unless wake
		case <-timer.C:
		case <-ctx.Done():
			ok = false
		case <-s.closing:
			ok = false
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		s.mu.Lock()
		if wake {
			q.removeWaiter(ch)
			select {
			case <-ch:
			default:
			}
		}
		return ok
	}
	for len(held) < count && now.Before(deadline) {
		wait := deadline.Sub(now)
		if mode == longPollFullBatch {
			// Nothing changes between two steps unless a task is pushed
			// or a delayed one falls due, so sleep until then and pop at
			// the next step after it; an idle poll costs no CPU.
			if due, ok := q.nextDue(); ok {
				wait = min(wait, max(due.Sub(now), 0))
			}
		}
		// In the hold mode the waiter only lets Advance end the wait early.
		if !sleep(wait, true) {
			s.putBack(q, held)
			return nil
		}
		now = s.now()
		if mode != longPollFullBatch {
			continue
		}
		if now.Before(deadline) {
			elapsed := now.Sub(start)
			next := start.Add((elapsed + fullBatchStep - 1) / fullBatchStep * fullBatchStep)
			if next.After(now) {
				if !sleep(next.Sub(now), false) {
					s.putBack(q, held)
					return nil
				}
				now = s.now()
			}
		}
		held = s.take(q, count-len(held), now, held)
	}
	if ctx.Err() != nil {
		s.putBack(q, held)
		return nil
	}
	var out []wire.Task
	for _, t := range held {
		if j, ok := s.claimOne(t, workerID, now); ok {
			out = append(out, j)
		}
	}
	return out
}

// take pops up to n due tasks off q, without starting them, and appends
// them to held. Caller holds s.mu.
func (s *Server) take(q *queue, n int, now time.Time, held []*task) []*task {
	q.promote(now)
	for i := 0; i < n; {
		t := q.next()
		if t == nil {
			break
		}
		if !t.pollable() {
			continue
		}
		held = append(held, t)
		i++
	}
	return held
}

// putBack returns tasks that a poll took but did not hand out to the front
// of their queue, in their order. Caller holds s.mu.
func (s *Server) putBack(q *queue, held []*task) {
	for i := len(held) - 1; i >= 0; i-- {
		t := held[i]
		if t.queued || !t.pollable() {
			continue
		}
		q.pushFront(t)
	}
}

// acquireSlot waits for one of the WithMaxConcurrentRequests slots; it
// returns a release function, or false when the client or the server went
// away first.
func (s *Server) acquireSlot(ctx context.Context) (func(), bool) {
	if s.slots == nil {
		return func() {}, true
	}
	release := func() { <-s.slots }
	select {
	case s.slots <- struct{}{}:
		return release, true
	default:
	}
	s.slotWaiters.Add(1)
	defer s.slotWaiters.Add(-1)
	select {
	case s.slots <- struct{}{}:
		return release, true
	case <-ctx.Done():
		return nil, false
	case <-s.closing:
		return nil, false
	}
}
