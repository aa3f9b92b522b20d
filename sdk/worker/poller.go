package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/backoff"
	"github.com/baton-go/baton/sdk/model"
)

// poller owns one (task type, domain): it reserves slots, polls, and starts a
// goroutine per task. Its loop is the only writer of the poll state; the
// fields other goroutines touch are atomics (settings written by the public
// API, counters read by Workers) plus the small active-task set read by
// Shutdown.
type poller struct {
	r       *TaskRunner
	key     workerKey
	handler HandlerFunc
	log     logrus.FieldLogger

	queue string // the server's queue name: [domain:]taskType

	// set at start from options and the environment (envconfig.go)
	noLease bool
	sources map[string]string

	slots        atomic.Int64 // batch size
	inFlight     atomic.Int64 // slots in use
	pollInterval atomic.Int64 // time.Duration
	fixedTimeout atomic.Int64 // time.Duration; valid when hasFixed
	hasFixed     atomic.Bool
	paused       atomic.Bool

	// strategy is the loop's own (strategy.go); idleMode and nextTimeout
	// mirror it for Workers.
	strategy    pollStrategy
	permit      bool // holds one of the runner's held-poll permits (loop only)
	idleMode    atomic.Int32
	nextTimeout atomic.Int64
	// backlog: the last poll without waiting filled every slot it asked
	// for, so more tasks are likely queued and update-v2 (which fetches the
	// next task with each result) saves the polls (reporter.go).
	backlog atomic.Bool

	// wake is signalled (never blocking) when a slot frees up or a setting
	// changes; the loop re-reads its state after each signal, so a signal
	// cannot be lost and a spurious one costs one loop turn.
	wake chan struct{}

	pollErrLog   *errLogLimiter
	updateErrLog *errLogLimiter

	// status, read by Workers
	state      atomic.Int32
	polls      atomic.Uint64
	pollErrors atomic.Uint64
	tasks      atomic.Uint64
	failures   atomic.Uint64
	giveUps    atomic.Uint64
	lastPoll   atomic.Int64 // unix nanoseconds
	polledOK   atomic.Bool
	lastErr    atomic.Pointer[string]

	activeMu sync.Mutex
	active   map[string]struct{} // task ids running or being reported

	fatal fatalState // stopping on a misconfiguration: see fatal.go
}

func newPoller(r *TaskRunner, key workerKey, h HandlerFunc, wc workerConfig) *poller {
	fields := logrus.Fields{"taskType": key.taskType, "workerId": r.workerID}
	if key.domain != "" {
		fields["domain"] = key.domain
	}
	p := &poller{
		r:            r,
		key:          key,
		handler:      h,
		log:          r.log.WithFields(fields),
		queue:        queueName(key.taskType, key.domain),
		wake:         make(chan struct{}, 1),
		pollErrLog:   newErrLogLimiter("worker: poll failing", ErrorLogInterval, r.clock),
		updateErrLog: newErrLogLimiter("worker: result updates failing", ErrorLogInterval, r.clock),
		active:       map[string]struct{}{},
		noLease:      wc.noLease,
		sources:      wc.sources,
	}
	p.slots.Store(int64(wc.batchSize))
	p.pollInterval.Store(int64(wc.pollInterval))
	switch {
	case wc.pollTimeoutS:
		p.setFixedTimeout(wc.pollTimeout)
	case r.cfg.pollTimeoutS:
		p.setFixedTimeout(r.cfg.pollTimeout)
	}
	return p
}

func (p *poller) setFixedTimeout(d time.Duration) {
	p.fixedTimeout.Store(int64(d))
	p.hasFixed.Store(true)
}

func (p *poller) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *poller) setPaused(paused bool) {
	if p.paused.Swap(paused) == paused {
		return
	}
	p.r.rec.PausedChanged(p.key.taskType, paused)
	if paused {
		p.log.Info("worker: paused")
	} else {
		p.log.Info("worker: resumed")
	}
	p.signal()
}

func (p *poller) addSlots(n int) {
	p.slots.Add(int64(n))
	p.signal()
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

func (p *poller) run() {
	defer p.r.running.done()
	defer p.r.pollerStopped()
	defer p.releasePermit()
	ctx, stop := p.runContext() // fetchCtx, also ended by checkFatal
	defer stop()
	p.log.WithFields(logrus.Fields{"batchSize": p.slots.Load(), "pollInterval": time.Duration(p.pollInterval.Load())}).Info("worker: started")
	defer func() {
		p.state.Store(stateStopped)
		p.log.Info("worker: stopped polling")
	}()
	if p.paused.Load() {
		p.r.rec.PausedChanged(p.key.taskType, true)
	}
	p.r.rec.SlotsChanged(p.key.taskType, 0, int(p.slots.Load()))
	if d := p.r.cfg.deferStart; d > 0 {
		if !p.sleep(ctx, d) {
			return
		}
	}
	errPolicy := backoff.Policy{Min: PollBackoffMin, Max: PollBackoffMax}
	failures := 0
	// flowing: the last poll brought tasks, so poll again at once, without
	// asking the server to wait. The first poll is such a poll too.
	flowing := true
	var coalesceUntil time.Time // end of the current wait for more free slots
	for ctx.Err() == nil {
		if p.paused.Load() {
			p.releasePermit()
			p.state.Store(statePaused)
			p.waitSignal(ctx)
			continue
		}
		free := p.slots.Load() - p.inFlight.Load()
		if free <= 0 {
			p.releasePermit()
			p.state.Store(stateWaitingForSlot)
			p.waitSignal(ctx)
			continue
		}
		if flowing && p.backlog.Load() && free < (p.slots.Load()+1)/2 {
			// Tasks are queued and fewer than half the slots are free:
			// wait up to PollCoalesce for more to free up, so that one poll
			// brings many tasks. Real servers spend about as much on a poll
			// as on a result, so this halves the requests per task at
			// batch 10 and more (see PollCoalesce).
			now := p.r.clock.Now()
			if coalesceUntil.IsZero() {
				coalesceUntil = now.Add(PollCoalesce)
			}
			if d := coalesceUntil.Sub(now); d > 0 {
				p.state.Store(stateWaitingForSlot)
				p.waitSignalFor(ctx, d)
				continue
			}
		}
		coalesceUntil = time.Time{}
		count := int(min(free, PollCountMax))
		var timeout time.Duration
		watchSize := -1 // the queue size that woke a watching worker
		if !flowing {
			p.strategy.fixed, p.strategy.fixedTimeout = p.hasFixed.Load(), time.Duration(p.fixedTimeout.Load())
			w := p.strategy.idle(p.acquirePermit(), p.r.watch.available())
			p.idleMode.Store(int32(w))
			timeout = p.strategy.heldTimeout(w, time.Duration(p.pollInterval.Load()))
			p.nextTimeout.Store(int64(timeout))
			switch w {
			case idleHold, idleProbe:
				// Ask for one task: a server that holds a poll until its
				// whole batch is there wakes it for the first task.
				count = 1
			case idleWatch:
				p.state.Store(stateWatching)
				woken, size, err := p.r.watch.wait(ctx, p.queue, time.Duration(p.pollInterval.Load()), p.wake)
				if errors.Is(err, errWatchUnsupported) || !woken {
					continue // re-plan: interval polls, a new setting, or shutdown
				}
				watchSize = size
			case idleInterval:
				if !p.idleSleep(ctx) {
					return
				}
			}
		}
		p.state.Store(statePolling)
		tasks, elapsed, err := p.poll(ctx, count, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return // cancelled by Shutdown, not a server problem
			}
			failures++
			flowing = false
			p.state.Store(stateBackingOff)
			if !p.sleep(ctx, errPolicy.Delay(failures)) {
				return
			}
			continue
		}
		failures = 0
		p.backlog.Store(timeout == 0 && len(tasks) >= count)
		switch p.strategy.observe(timeout > 0, timeout, elapsed, tasks) {
		case 1:
			p.log.WithField("pollTimeout", PollTimeoutDefault).Info("worker: server answers held polls as soon as a task is queued; idle polls now wait up to the long timeout")
		case -1:
			p.log.Info("worker: server did not answer a held poll when a task was queued; back to short idle polls")
		}
		if len(tasks) > 0 {
			flowing = true
			p.releasePermit() // busy workers leave held polls to idle ones
			p.dispatch(tasks)
			continue
		}
		flowing = false
		if watchSize > 0 {
			p.r.watch.falseWake(p.queue, watchSize)
		}
		if timeout > 0 && elapsed < timeout/2 {
			// The server answered a held poll at once with nothing: it does
			// not hold polls. Wait the interval rather than spin.
			if !p.idleSleep(ctx) {
				return
			}
		}
	}
}

// idleSleep waits the poll interval, with jitter; false when ctx ended.
func (p *poller) idleSleep(ctx context.Context) bool {
	p.state.Store(stateIdleWait)
	return p.sleep(ctx, backoff.Jitter(time.Duration(p.pollInterval.Load()), 0.2))
}

// acquirePermit takes one of the runner's held-poll permits unless the
// worker holds one already; it reports whether the worker holds one.
func (p *poller) acquirePermit() bool {
	if !p.permit {
		select {
		case p.r.holds <- struct{}{}:
			p.permit = true
		default:
		}
	}
	return p.permit
}

func (p *poller) releasePermit() {
	if p.permit {
		<-p.r.holds
		p.permit = false
	}
}

// poll makes one batch poll and does its bookkeeping.
func (p *poller) poll(ctx context.Context, count int, timeout time.Duration) ([]model.Task, time.Duration, error) {
	r := p.r
	pctx, cancel := context.WithTimeout(ctx, timeout+PollRequestSlack)
	start := r.clock.Now()
	tasks, err := r.api.batchPoll(pctx, pollRequest{
		taskType: p.key.taskType,
		domain:   p.key.domain,
		workerID: r.workerID,
		count:    count,
		timeout:  timeout,
	})
	cancel()
	now := r.clock.Now()
	elapsed := now.Sub(start)
	p.polls.Add(1)
	p.tracePoll(start, now, count, timeout, tasks, err)
	if err != nil {
		if ctx.Err() != nil {
			return nil, elapsed, err
		}
		kind := classify(err).kind
		r.rec.PollDone(p.key.taskType, 0, elapsed, kind)
		p.pollErrors.Add(1)
		msg := err.Error()
		p.lastErr.Store(&msg)
		p.pollErrLog.failure(p.log, err)
		if h := r.hooks.OnWorkerError; h != nil {
			h(p.key.taskType, err)
		}
		p.checkFatal(err) // see fatal.go
		return nil, elapsed, err
	}
	p.lastPoll.Store(now.UnixNano())
	p.polledOK.Store(true)
	p.pollErrLog.success(p.log)
	r.rec.PollDone(p.key.taskType, len(tasks), elapsed, "")
	if debugEnabled(p.log) {
		p.log.WithFields(logrus.Fields{"asked": count, "got": len(tasks), "timeout": timeout, "elapsed": elapsed}).Debug("worker: polled")
	}
	if h := r.hooks.OnPoll; h != nil {
		h(p.key.taskType, len(tasks))
	}
	if len(tasks) == 0 {
		if h := r.hooks.OnEmptyPoll; h != nil {
			h(p.key.taskType)
		}
	}
	return tasks, elapsed, nil
}

// dispatch starts one goroutine per task. A server may hand out more tasks
// than asked for: all of them run (the slots count goes above the batch size
// for a while) and the next poll waits until enough have finished.
func (p *poller) dispatch(tasks []model.Task) {
	n := p.inFlight.Add(int64(len(tasks)))
	p.tasks.Add(uint64(len(tasks)))
	p.r.rec.SlotsChanged(p.key.taskType, int(n), max(0, int(p.slots.Load()-n)))
	for i := range tasks {
		p.r.running.add()
		go p.runSlot(&tasks[i])
	}
}

// runSlot runs a task and reports its result; when the report hands back the
// next task (update-v2), the slot runs that one too.
func (p *poller) runSlot(t *model.Task) {
	defer p.r.running.done()
	for t != nil {
		p.setActive(t.TaskId, true)
		res := p.execute(t)
		next := p.deliverTraced(t, res)
		p.setActive(t.TaskId, false)
		t = next
		if t != nil {
			p.tasks.Add(1)
		}
	}
	n := p.inFlight.Add(-1)
	p.r.rec.SlotsChanged(p.key.taskType, int(n), max(0, int(p.slots.Load()-n)))
	p.signal()
}

func (p *poller) setActive(id string, on bool) {
	p.activeMu.Lock()
	if on {
		p.active[id] = struct{}{}
	} else {
		delete(p.active, id)
	}
	p.activeMu.Unlock()
}

func (p *poller) activeTasks() []string {
	p.activeMu.Lock()
	defer p.activeMu.Unlock()
	ids := make([]string, 0, len(p.active))
	for id := range p.active {
		ids = append(ids, id)
	}
	return ids
}

// waitSignal blocks until a wake signal or the end of ctx.
func (p *poller) waitSignal(ctx context.Context) {
	select {
	case <-p.wake:
	case <-ctx.Done():
	}
}

// waitSignalFor is waitSignal for at most d.
func (p *poller) waitSignalFor(ctx context.Context, d time.Duration) {
	t := p.r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.wake:
	case <-t.C():
	case <-ctx.Done():
	}
}

// sleep waits d on the runner's clock; false when ctx ended first.
func (p *poller) sleep(ctx context.Context, d time.Duration) bool {
	return sleepCtx(ctx, p.r.clock, d)
}

func sleepCtx(ctx context.Context, clock clockSource, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := clock.NewTimer(d)
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

// debugEnabled avoids building debug fields nobody will see.
func debugEnabled(l logrus.FieldLogger) bool {
	switch v := l.(type) {
	case *logrus.Entry:
		return v.Logger.IsLevelEnabled(logrus.DebugLevel)
	case *logrus.Logger:
		return v.IsLevelEnabled(logrus.DebugLevel)
	}
	return true
}
