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

// workerState is one worker's settings, poll state and counters: the only
// thing its poller, its slots (executor and reporter) and the runner's
// public methods share. Each part has one owner:
//
//   - settings (slots, interval, timeout, paused) are an immutable snapshot
//     behind one atomic pointer, replaced as a whole by the public API
//     (change) and followed by a wake signal;
//   - the poll state is written by the poll loop alone and published as one
//     snapshot (pollState);
//   - the counters sit in stats, which status reads as one view;
//   - backlog has one writer per field: the poller says a poll filled its
//     batch, the reporter says which of those the queue has since run dry.
type workerState struct {
	key   workerKey
	queue string // the server's queue name: [domain:]taskType
	log   logrus.FieldLogger

	// set at start from options and the environment (envconfig.go)
	noLease bool
	sources map[string]string

	settings atomic.Pointer[workerSettings]
	// settingsMu serialises writers of settings, and orders a pause against
	// the poller's last look before a poll: change stores under it, the
	// poller checks under it, so no poll starts after Pause returned.
	settingsMu sync.Mutex

	// wake is signalled (never blocking) when a slot frees up or a setting
	// changes; the poller re-reads its state after each signal, so a signal
	// cannot be lost and a spurious one costs one loop turn.
	wake chan struct{}

	// pollState is the poll loop's state as Workers shows it; only the
	// poller stores it (poller.publish).
	pollState atomic.Pointer[pollState]

	stats workerStats

	// The last poll without waiting filled every slot it asked for, so more
	// tasks are likely queued and update-v2 (which fetches the next task
	// with each result) saves the polls (reporter.go). fullPoll is the
	// number of that poll (0: the last poll did not fill its batch), written
	// by the poller; ranDry is the fullPoll the reporter saw the queue run
	// dry after, written by the reporter.
	fullPoll atomic.Uint64
	ranDry   atomic.Uint64

	activeMu sync.Mutex
	active   map[string]struct{} // task ids running or being reported

	// fatal is the evidence that the configuration is wrong, and why the
	// worker stopped on its own (fatal.go).
	fatal fatalTracker
}

// workerSettings is what the user (code, environment or the runner's
// methods) set for a worker. A value is never changed once published.
type workerSettings struct {
	slots        int64 // batch size
	pollInterval time.Duration
	timeout      timeoutChoice
	paused       bool
}

// timeoutChoice is the user's held-poll timeout, if any (WithPollTimeout or
// PollTimeout): fixed false means adaptive (strategy.go).
type timeoutChoice struct {
	fixed bool
	d     time.Duration // valid when fixed; 0 means interval polls
}

// pollState is the poller's state for Workers, published as a whole.
type pollState struct {
	state       int32    // one of the state* constants
	idleMode    idleWait // the last idle plan
	nextTimeout time.Duration
	lastPoll    time.Time
	polledOK    bool
	polls       uint64
	pollErrors  uint64
	lastErr     string
}

// workerStats counts the worker's tasks; status reads them as one view.
type workerStats struct {
	mu       sync.Mutex
	inFlight int64  // slots in use
	tasks    uint64 // tasks started
	failures uint64 // executions that failed
	giveUps  uint64 // results given up
}

// statsView is a consistent copy of workerStats.
type statsView struct {
	inFlight                 int64
	tasks, failures, giveUps uint64
}

// started counts n tasks taken into slots; it returns the slots in use.
func (s *workerStats) started(n int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight += int64(n)
	s.tasks += uint64(n)
	return s.inFlight
}

// continued counts a task a slot took over from a result (update-v2).
func (s *workerStats) continued() {
	s.mu.Lock()
	s.tasks++
	s.mu.Unlock()
}

// ended frees a slot; it returns the slots in use.
func (s *workerStats) ended() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	return s.inFlight
}

func (s *workerStats) failed() {
	s.mu.Lock()
	s.failures++
	s.mu.Unlock()
}

func (s *workerStats) gaveUp() {
	s.mu.Lock()
	s.giveUps++
	s.mu.Unlock()
}

func (s *workerStats) view() statsView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return statsView{s.inFlight, s.tasks, s.failures, s.giveUps}
}

func (s *workerStats) slotsInUse() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
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
	set := &workerSettings{slots: int64(wc.batchSize), pollInterval: wc.pollInterval}
	switch {
	case wc.pollTimeoutS:
		set.timeout = timeoutChoice{true, wc.pollTimeout}
	case runnerTimeout != nil:
		set.timeout = timeoutChoice{true, *runnerTimeout}
	}
	w.settings.Store(set)
	w.pollState.Store(&pollState{})
	return w
}

// current is the worker's settings now.
func (w *workerState) current() *workerSettings { return w.settings.Load() }

// change publishes settings changed by f and wakes the poller; it returns
// the settings before and after.
func (w *workerState) change(f func(*workerSettings)) (before, after workerSettings) {
	w.settingsMu.Lock()
	before = *w.settings.Load()
	after = before
	f(&after)
	w.settings.Store(&after)
	w.settingsMu.Unlock()
	w.signal()
	return before, after
}

// signal wakes the poller; it never blocks.
func (w *workerState) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// backlog says whether the last poll without waiting filled its batch and
// the queue has not been seen to run dry since.
func (w *workerState) backlog() bool { return w.backlogOf() != 0 }

// backlogOf is the number of the full poll behind the backlog, 0 when there
// is none.
func (w *workerState) backlogOf() uint64 {
	n := w.fullPoll.Load()
	if n == 0 || w.ranDry.Load() == n {
		return 0
	}
	return n
}

// queueRanDry records that the reporter found the queue empty (update-v2
// brought no next task) after full poll n (backlogOf when it chose
// update-v2). A later full poll keeps its backlog; only the reporter calls
// it.
func (w *workerState) queueRanDry(n uint64) { w.ranDry.Store(n) }

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
	set := w.current()
	ps := w.pollState.Load()
	st := w.stats.view()
	s := WorkerStatus{
		TaskType:      w.key.taskType,
		Domain:        w.key.domain,
		BatchSize:     int(set.slots),
		PollInterval:  set.pollInterval,
		PollTimeout:   ps.nextTimeout,
		IdleWait:      ps.idleMode.String(),
		Paused:        set.paused,
		State:         stateNames[ps.state],
		SlotsInUse:    int(st.inFlight),
		Polls:         ps.polls,
		PollErrors:    ps.pollErrors,
		Tasks:         st.tasks,
		Failures:      st.failures,
		UpdateGiveUps: st.giveUps,
		Ready:         ps.polledOK,
		LastPoll:      ps.lastPoll,
		LastError:     ps.lastErr,

		LeaseExtension: !w.noLease,
		ConfigSources:  maps.Clone(w.sources),
	}
	if ce := w.fatal.stoppedErr(); ce != nil {
		// A worker that stopped for good is not ready, whatever it did before.
		s.Ready = false
		s.StoppedReason = ce.Error()
	}
	return s
}
