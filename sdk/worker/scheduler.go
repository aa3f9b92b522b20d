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
//     no permits among themselves and never keep a busy type waiting; and
//     such types share one free permit, so that a process with many task
//     types that never get a task holds at most one poll for them.
//   - Held polls are given up where they do not pay: every task queued
//     while a poll of this runner was held is a sample. It is fast when the
//     server handed it over within neverWakeMin of queueing it, slow when it
//     let the poll end without it and handed it to a later poll, or answered
//     later than that, and passed over when the held poll ended without it
//     but the next poll took it within neverWakeMin. Once slow samples
//     number slowNeeded among the last sampleWindow, or passedNeeded samples
//     in a row are slow or passed over, no worker holds a poll any more
//     (unless its user chose the timeout): idle workers are watched, which
//     costs the server one request per poll interval for all of them and
//     picks a task up within an interval. Two kinds of server end there:
//     Conductor 3.21 with Redis queues, which never wakes a held poll for
//     one task (no sample is ever fast), and several 3.32 nodes behind a
//     load balancer, where a node wakes at once for a task queued through
//     it but sees one queued through another node only at its next look at
//     the shared store, up to a second later (about half the samples slow;
//     measured on two 3.32.3 nodes on one Redis, isolated tasks: pickup
//     p50/p90 329/577 ms with 5 s held polls, 99/252 ms probing, 61/103 ms
//     watched, 46/94 ms for a loop polling every interval). A single 3.32
//     node wakes within 100 ms (SQLite's step, whose last look comes after
//     the timeout, so no task is passed over) or at once (Redis): its
//     samples are fast, and a slow one under load is outweighed. Passed-over
//     samples are what a fleet teaches on 3.21: the process that gets a task
//     is the one whose held poll ends first after it was queued, so the task
//     has hardly waited (seen on 3.21.14 with 5 processes: about 1 task in
//     100 waited long enough to be slow, so fleets kept probing).
type scheduler struct {
	clock clockSource
	max   int

	mu      sync.Mutex
	holders map[*workerState]bool // holder -> its permit was taken away
	// lastTask is when each worker's poll last brought tasks.
	lastTask map[*workerState]time.Time
	// waiting is the worker that took a permit away and waits for it.
	waiting map[*workerState]bool
	// samples are the last sampleWindow tasks queued while a poll was
	// held (see polled); sinceFast counts the samples since the last fast
	// one. Once enough are slow, or sinceFast reaches passedNeeded,
	// neverWakes: held polls do not pay here.
	samples    []sampleKind
	sinceFast  int
	neverWakes bool
	// woke counts fast answers in a row (since the last slow sample) to
	// held polls, each with a task queued wokeAfter or more into the poll:
	// at wokeNeeded the server is known to wake held polls, and permit
	// holders hold for pollTimeoutDefault.
	woke int
}

// sampleKind is how a server treated one task queued during a held poll.
type sampleKind int

const (
	sampleFast   sampleKind = iota // handed over within neverWakeMin
	sampleSlow                     // handed over neverWakeMin or more after it was queued
	samplePassed                   // a held poll ended without it; the next poll took it within neverWakeMin
)

// heldPollNews is what one poll's answer settled about the server.
type heldPollNews int

const (
	newsNone        heldPollNews = iota
	newsWakes                    // held polls now wait pollTimeoutDefault
	newsWakesUndone              // a slow answer: back to probes
	newsNeverWakes               // held polls do not pay: idle workers are watched
)

const (
	// trafficRecent is how recent a worker's last task must be for it to
	// take a permit from a worker that had none more recently. A minute
	// covers task types that get a task every few seconds (the ones whose
	// pickup a 5 s held poll speeds up) and lets a type that went quiet
	// lose its permit to one that did not.
	trafficRecent = time.Minute

	// neverWakeMin is how long a task queued during a held poll may wait
	// for the poll's answer and still count as handed over fast: a server
	// that wakes held polls does so within its 100 ms step (3.32 with
	// SQLite), so a wait of 150 ms or more is slow.
	neverWakeMin = 150 * time.Millisecond

	// slowNeeded slow samples among the last sampleWindow end held polls.
	// On 3.21 every sample is slow; on a two-node cluster about half are;
	// on one 3.32 node a slow one is load, rare enough that two rarely meet
	// among eight.
	slowNeeded   = 2
	sampleWindow = 8

	// passedNeeded samples in a row that are not fast end held polls too.
	// On 3.21 every sample is slow or passed over, and in a fleet most are
	// passed over; a single 3.32 node, and a cluster about half the time,
	// hands a task queued during a held poll to that poll, which starts the
	// count again. Four: a process alone on 3.21 learns it from its first
	// five or so tasks, and one in a fleet of five from about twenty-five
	// of the fleet's.
	passedNeeded = 4

	// endedEarly is how long before a held poll's answer reached the
	// worker a task must have been queued to count as let pass by it: the
	// server ended the poll before its answer arrived, and a task queued in
	// between was never the poll's to take.
	endedEarly = 5 * time.Millisecond

	// wokeAfter is how long a held poll must have been out when its task
	// was queued for a fast answer to count towards the proof that the
	// server wakes held polls: longer than arrivedLate, because on 3.21.14
	// on a loaded machine a poll answered at once with a task queued just
	// before it arrived took more than 40 ms to come back. wokeNeeded such
	// answers in a row settle it: three, so that a cluster, whose nodes
	// answer at once for half the tasks (those queued through them), is
	// rarely taken for a waking server (1 in 8) before its slow answers
	// are seen; a slow answer undoes the proof, so a wrong guess costs one
	// late task.
	wokeAfter  = 100 * time.Millisecond
	wokeNeeded = 3
)

// isCold reports whether a worker whose polls last brought tasks at
// lastTask (zero: never) is cold at now: no task within trafficRecent.
// Cold workers take no permit from others, share one, and are watched at
// the cold rate (watcher.go, coldPeriod).
func isCold(lastTask, now time.Time) bool {
	return lastTask.IsZero() || now.Sub(lastTask) > trafficRecent
}

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

// wakesProven reports whether this runner has seen the server wake held
// polls fast, and not since then slowly: permit holders then hold for
// pollTimeoutDefault, so that an idle type costs the server one request per
// 5 s.
func (s *scheduler) wakesProven() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.neverWakes && s.woke >= wokeNeeded
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
	mine := s.lastTask[w]
	hot := !isCold(mine, s.clock.Now())
	if len(s.holders) < s.max {
		// Types without recent tasks share one permit: a process with
		// many task types that never get one would otherwise give every
		// permit to them, and a fleet of such processes would hold
		// max permits each for nothing.
		if !hot && s.coldHoldersLocked() > 0 {
			return false
		}
		s.holders[w] = false
		delete(s.waiting, w)
		return true
	}
	if !hot {
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

// lastTaskOf is when a poll of w last brought tasks (zero: none since it
// started). The queue watcher looks at the queue of a worker whose last task
// is older than trafficRecent at the cold rate (watcher.go, coldPeriod).
func (s *scheduler) lastTaskOf(w *workerState) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastTask[w]
}

// coldHoldersLocked counts the permit holders without a recent task.
func (s *scheduler) coldHoldersLocked() int {
	n, now := 0, s.clock.Now()
	for h := range s.holders {
		if isCold(s.lastTask[h], now) {
			n++
		}
	}
	return n
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

// pollFacts is what the poller knows of one poll when it asks the scheduler
// what its answer teaches.
type pollFacts struct {
	held    bool          // the poll had a timeout
	elapsed time.Duration // from sending it to its answer
	// prevHeldEmpty is the previous poll's duration when it was held and
	// came back empty (0 otherwise), and prevEnded how long before this
	// poll's answer it ended.
	prevHeldEmpty, prevEnded time.Duration
}

// polled records what a poll of w brought: its traffic, and how the server
// treated tasks queued while a poll was held: this poll's, and the previous
// one's when it was held and came back empty. It returns what this answer
// settled about the server, for the poller to log.
func (s *scheduler) polled(w *workerState, p pollFacts, tasks []model.Task) heldPollNews {
	if len(tasks) == 0 {
		return newsNone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastTask[w] = s.clock.Now()
	if s.neverWakes {
		return newsNone
	}
	for i := range tasks {
		wait, ok := queueWait(&tasks[i])
		if !ok {
			continue
		}
		switch {
		case p.held && p.elapsed-wait >= arrivedLate:
			// Queued after this poll reached the server: fast if it was
			// handed over within the step of a server that wakes.
			if wait < neverWakeMin {
				return s.fast(p.elapsed-wait >= wokeAfter)
			}
			return s.record(sampleSlow)
		case p.prevHeldEmpty > 0 && wait >= p.prevEnded+endedEarly && wait <= p.prevHeldEmpty+p.prevEnded-p.elapsed-arrivedLate:
			// Queued after the previous held poll reached the server and
			// before it ended (the server handed the task over between
			// this poll's sending and its answer, so it waited at least
			// the time since that poll's answer): the server let it pass.
			// Slow if it was queued long enough before the end that a
			// waking server would have answered.
			if wait-p.prevEnded >= neverWakeMin {
				return s.record(sampleSlow)
			}
			return s.record(samplePassed)
		}
	}
	return newsNone
}

// fast records a task queued during a held poll and handed over fast;
// proof says whether it was queued late enough into the poll to count
// towards wokeNeeded.
func (s *scheduler) fast(proof bool) heldPollNews {
	s.sample(sampleFast)
	if !proof {
		return newsNone
	}
	s.woke++
	if s.woke == wokeNeeded {
		return newsWakes
	}
	return newsNone
}

// record adds a sample that is not fast: a task that a held poll let pass or
// handed over late.
func (s *scheduler) record(k sampleKind) heldPollNews {
	s.sample(k)
	undone := k == sampleSlow && s.woke >= wokeNeeded
	if k == sampleSlow {
		s.woke = 0
	}
	slow := 0
	for _, v := range s.samples {
		if v == sampleSlow {
			slow++
		}
	}
	if slow >= slowNeeded || s.sinceFast >= passedNeeded {
		s.neverWakes = true
		return newsNeverWakes
	}
	if undone {
		return newsWakesUndone
	}
	return newsNone
}

// sample adds one observation of a task queued during a held poll.
func (s *scheduler) sample(k sampleKind) {
	if k == sampleFast {
		s.sinceFast = 0
	} else {
		s.sinceFast++
	}
	s.samples = append(s.samples, k)
	if len(s.samples) > sampleWindow {
		s.samples = s.samples[1:]
	}
}
