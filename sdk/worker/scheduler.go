package worker

import (
	"sync"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// scheduler is the runner's one place that decides, for all its workers,
// which idle worker may hold a poll on the server. It owns the held-poll
// permits (WithMaxHeldPolls) and what the workers have shown about the
// server and about their traffic; each poller asks it before an idle wait.
//
//   - Permits follow traffic. A worker that finds its permits all taken,
//     and has had a task more recently than the coldest holder, takes that
//     holder's permit away: the holder gives it up at its next idle wait
//     (its held poll, already out, is read to its end, see Shutdown), and
//     the worker that asked is woken to take it. A type that has not had a
//     task for longer than trafficRecent claims nothing, so idle types trade
//     no permits among themselves and never keep a busy type waiting.
//   - A server that never wakes a held poll for one task (Conductor 3.21
//     with Redis queues) gets no held polls once that is seen twice, and
//     never a held poll answered with a task queued during it: its
//     idle workers are watched, which costs it one request per poll interval
//     for all of them and picks a task up within an interval, where a probe
//     misses a task that arrives during it.
type scheduler struct {
	clock clockSource
	max   int

	mu      sync.Mutex
	holders map[*workerState]bool // holder -> its permit was taken away
	// lastTask is when each worker's poll last brought tasks.
	lastTask map[*workerState]time.Time
	// waiting is the worker that took a permit away and waits for it.
	waiting map[*workerState]bool
	// misses counts held polls the server let pass a task queued during
	// them; at neverWakeMisses it is known not to wake held polls.
	misses     int
	neverWakes bool
	// woke counts held polls seen answered with a task queued during them;
	// at wokeNeeded the server is known to wake held polls, and misses are
	// load, not its nature.
	woke int
}

const (
	// trafficRecent is how recent a worker's last task must be for it to
	// take a permit from a worker that had none more recently. A minute
	// covers task types that get a task every few seconds (the ones whose
	// pickup a 5 s held poll speeds up) and lets a type that went quiet
	// lose its permit to one that did not.
	trafficRecent = time.Minute

	// neverWakeMisses is how many missed tasks prove that the server does
	// not wake held polls: two, as for the proof of the opposite
	// (proofsNeeded).
	neverWakeMisses = 2

	// neverWakeMin is how long a missed task must have waited: a server that
	// wakes held polls hands a task over within its 100 ms step (3.32 with
	// SQLite), so a wait of 150 ms or more while a poll was held is a miss.
	neverWakeMin = 150 * time.Millisecond

	// wokeAfter is how long a held poll must have been out when its task
	// was queued for the answer to count as a wake: longer than arrivedLate,
	// because on 3.21.14 on a loaded machine a poll answered at once with a
	// task queued just before it arrived took more than 40 ms to come back,
	// and was taken for a wake. wokeNeeded such answers settle it.
	wokeAfter  = 100 * time.Millisecond
	wokeNeeded = 2
)

func newScheduler(clock clockSource, max int) *scheduler {
	return &scheduler{
		clock:    clock,
		max:      max,
		holders:  map[*workerState]bool{},
		lastTask: map[*workerState]time.Time{},
		waiting:  map[*workerState]bool{},
	}
}

// holdsUseful reports whether held polls can help on this server.
func (s *scheduler) holdsUseful() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.neverWakes
}

// acquire reports whether w may hold a poll now, taking a permit if it has
// none.
func (s *scheduler) acquire(w *workerState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if revoked, ok := s.holders[w]; ok {
		if !revoked {
			return true
		}
		s.releaseLocked(w)
		return false
	}
	if len(s.holders) < s.max {
		s.holders[w] = false
		delete(s.waiting, w)
		return true
	}
	mine, ok := s.lastTask[w]
	if !ok || s.clock.Now().Sub(mine) > trafficRecent {
		return false
	}
	// Take the permit of the holder whose last task is oldest, if older
	// than w's, unless one is already on its way to w.
	if s.waiting[w] {
		return false
	}
	var coldest *workerState
	for h, revoked := range s.holders {
		if revoked {
			continue
		}
		if coldest == nil || s.lastTask[h].Before(s.lastTask[coldest]) {
			coldest = h
		}
	}
	if coldest != nil && s.lastTask[coldest].Before(mine) {
		s.holders[coldest] = true
		s.waiting[w] = true
		coldest.signal() // it may be waiting for a slot or a setting, not polling
	}
	return false
}

// release gives w's permit back, if it has one.
func (s *scheduler) release(w *workerState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(w)
}

func (s *scheduler) releaseLocked(w *workerState) {
	if _, ok := s.holders[w]; !ok {
		return
	}
	delete(s.holders, w)
	// A worker that took a permit away gets this one, reserved so that the
	// worker giving it up cannot take it back first, and is woken to use
	// it now rather than at its next wake.
	for x := range s.waiting {
		delete(s.waiting, x)
		s.holders[x] = false
		x.signal()
		break
	}
}

// gone forgets a worker whose poller ended.
func (s *scheduler) gone(w *workerState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(w)
	delete(s.lastTask, w)
	delete(s.waiting, w)
}

// polled records what a poll of w brought: its traffic, and whether the
// server woke the poll (held: it had timeout > 0 and took elapsed) or let
// a task pass the held poll before it (prevHeldEmpty: the duration of the
// previous poll when it was held and came back empty).
func (s *scheduler) polled(w *workerState, held bool, elapsed, prevHeldEmpty time.Duration, tasks []model.Task) (provenNever bool) {
	if len(tasks) == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastTask[w] = s.clock.Now()
	if held && s.woke < wokeNeeded {
		for i := range tasks {
			// Queued well after the poll reached the server: it was woken.
			if wait, ok := queueWait(&tasks[i]); ok && elapsed-wait >= wokeAfter {
				s.woke++
				break
			}
		}
	}
	if s.neverWakes || s.woke >= wokeNeeded || prevHeldEmpty <= 0 {
		return false
	}
	for i := range tasks {
		wait, ok := queueWait(&tasks[i])
		// Queued after the held poll reached the server (arrivedLate) and
		// long enough before it ended that any waking server would have
		// answered it.
		if ok && wait >= neverWakeMin && wait <= prevHeldEmpty-arrivedLate {
			s.misses++
			if s.misses >= neverWakeMisses {
				s.neverWakes = true
				return true
			}
			return false
		}
	}
	return false
}
