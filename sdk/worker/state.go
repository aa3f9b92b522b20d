package worker

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// workerKey names one worker: a task type in a domain ("" for none).
type workerKey struct{ taskType, domain string }

// workerState is one worker's settings, slot count and counters: the only
// thing its poller, its slots (executor and reporter) and the runner's
// public methods share. Every field another goroutine may touch is an
// atomic or sits under a lock, so each part reads it without coordination;
// the poller's loop is the only writer of the poll state (idleMode,
// nextTimeout, state).
type workerState struct {
	key   workerKey
	queue string // the server's queue name: [domain:]taskType
	log   logrus.FieldLogger

	// set at start from options and the environment (envconfig.go)
	noLease bool
	sources map[string]string

	// settings, written by the public API
	slots        atomic.Int64 // batch size
	pollInterval atomic.Int64 // time.Duration
	fixedTimeout atomic.Int64 // time.Duration; valid when hasFixed
	hasFixed     atomic.Bool
	paused       atomic.Bool
	// pauseMu orders a pause against the poller's last look before a
	// poll: Pause changes paused under it, the poller checks it under it.
	pauseMu sync.Mutex

	inFlight atomic.Int64 // slots in use
	// backlog: the last poll without waiting filled every slot it asked
	// for, so more tasks are likely queued and update-v2 (which fetches the
	// next task with each result) saves the polls (reporter.go).
	backlog atomic.Bool

	// wake is signalled (never blocking) when a slot frees up or a setting
	// changes; the poller re-reads its state after each signal, so a signal
	// cannot be lost and a spurious one costs one loop turn.
	wake chan struct{}

	// status, read by Workers
	state       atomic.Int32 // one of the state* constants
	idleMode    atomic.Int32 // the poller's last idleWait
	nextTimeout atomic.Int64 // the poller's next held-poll timeout
	polls       atomic.Uint64
	pollErrors  atomic.Uint64
	tasks       atomic.Uint64
	failures    atomic.Uint64
	giveUps     atomic.Uint64
	lastPoll    atomic.Int64 // unix nanoseconds
	polledOK    atomic.Bool
	lastErr     atomic.Pointer[string]

	activeMu sync.Mutex
	active   map[string]struct{} // task ids running or being reported

	// fatal is the evidence that the configuration is wrong, and why the
	// worker stopped on its own (fatal.go).
	fatal fatalTracker
}

func newWorkerState(key workerKey, log logrus.FieldLogger, wc workerConfig, runnerTimeout *time.Duration) *workerState {
	w := &workerState{
		key:     key,
		queue:   queueName(key.taskType, key.domain),
		log:     log,
		noLease: wc.noLease,
		sources: wc.sources,
		wake:    make(chan struct{}, 1),
		active:  map[string]struct{}{},
	}
	w.slots.Store(int64(wc.batchSize))
	w.pollInterval.Store(int64(wc.pollInterval))
	switch {
	case wc.pollTimeoutS:
		w.setFixedTimeout(wc.pollTimeout)
	case runnerTimeout != nil:
		w.setFixedTimeout(*runnerTimeout)
	}
	return w
}

func (w *workerState) setFixedTimeout(d time.Duration) {
	w.fixedTimeout.Store(int64(d))
	w.hasFixed.Store(true)
}

// signal wakes the poller; it never blocks.
func (w *workerState) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *workerState) addSlots(n int) {
	w.slots.Add(int64(n))
	w.signal()
}

// free is the number of slots not in use (negative after a shrink).
func (w *workerState) free() int64 { return w.slots.Load() - w.inFlight.Load() }

func (w *workerState) interval() time.Duration { return time.Duration(w.pollInterval.Load()) }

func (w *workerState) setActive(id string, on bool) {
	w.activeMu.Lock()
	if on {
		w.active[id] = struct{}{}
	} else {
		delete(w.active, id)
	}
	w.activeMu.Unlock()
}

func (w *workerState) activeTasks() []string {
	w.activeMu.Lock()
	defer w.activeMu.Unlock()
	ids := make([]string, 0, len(w.active))
	for id := range w.active {
		ids = append(ids, id)
	}
	return ids
}

// stoppedFor is the error the worker stopped with, or nil.
func (w *workerState) stoppedFor() error {
	if ce := w.fatal.stoppedErr(); ce != nil {
		return ce
	}
	return nil
}

// Poller states reported by Workers.
const (
	stateStarting int32 = iota
	statePolling
	statePaused
	stateWaitingForSlot
	stateBackingOff
	stateIdleWait
	stateStopped
	stateWatching
)

var stateNames = [...]string{"starting", "polling", "paused", "waiting_for_slot", "backing_off", "interval_wait", "stopped", "watching"}

// status is the worker's WorkerStatus.
func (w *workerState) status() WorkerStatus {
	s := WorkerStatus{
		TaskType:      w.key.taskType,
		Domain:        w.key.domain,
		BatchSize:     int(w.slots.Load()),
		PollInterval:  w.interval(),
		PollTimeout:   time.Duration(w.nextTimeout.Load()),
		IdleWait:      idleWait(w.idleMode.Load()).String(),
		Paused:        w.paused.Load(),
		State:         stateNames[w.state.Load()],
		SlotsInUse:    int(w.inFlight.Load()),
		Polls:         w.polls.Load(),
		PollErrors:    w.pollErrors.Load(),
		Tasks:         w.tasks.Load(),
		Failures:      w.failures.Load(),
		UpdateGiveUps: w.giveUps.Load(),
		Ready:         w.polledOK.Load(),

		LeaseExtension: !w.noLease,
		ConfigSources:  maps.Clone(w.sources),
	}
	if ns := w.lastPoll.Load(); ns != 0 {
		s.LastPoll = time.Unix(0, ns).UTC()
	}
	if e := w.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	if ce := w.fatal.stoppedErr(); ce != nil {
		// A worker that stopped for good is not ready, whatever it did before.
		s.Ready = false
		s.StoppedReason = ce.Error()
	}
	return s
}
