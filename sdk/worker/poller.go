package worker

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/backoff"
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

// batchPoller is what a poller needs from the server.
type batchPoller interface {
	batchPoll(ctx context.Context, req pollRequest) ([]model.Task, error)
}

// pollerDeps is everything a poller uses besides its worker's state. The
// runner fills it in (runner.go); nothing in it points back at the runner.
type pollerDeps struct {
	api      batchPoller
	watch    *queueWatcher // the runner's watcher of idle queues
	sched    *scheduler    // the runner's: who may hold a poll (scheduler.go)
	clock    clockSource
	rec      Recorder
	hooks    Hooks
	trace    *tracing // nil: no tracing
	workerID string
	baseURL  string        // for the messages of ConfigError
	delay    time.Duration // before the first poll (WithDeferredStart)

	// dispatch runs tasks the poll brought, each in a slot of its own;
	// traces are their spans (nil when tracing is off).
	dispatch func(tasks []model.Task, traces []*taskTrace)
	// refuse fails tasks the poll brought that cannot be decoded
	// (undecodable.go).
	refuse func([]client.UndecodableTask)
	// work is the runner's work context: once it ends (the shutdown
	// deadline passed) tasks a poll brings are handed back, not run.
	work context.Context
	// handBack returns tasks to their queue at once (see Shutdown).
	handBack func(tasks []model.Task)
}

// poller asks the server for tasks for one worker: it waits for free slots,
// picks how to wait while the queue is empty (strategy.go), polls, hands the
// tasks to dispatch, and backs off when the server fails. Its loop is the
// only goroutine that touches strategy, permit and fatal.
type poller struct {
	pollerDeps
	w *workerState

	strategy    pollStrategy
	permit      bool      // holds one of the runner's held-poll permits
	lastPollEnd time.Time // when the last poll answered (or failed)
	fatal       fatalState
	pollErrLog  *errLogLimiter

	// ps is the poll state, which only this loop writes; publish makes a
	// copy of it visible to Workers.
	ps       pollState
	fullPoll uint64 // numbers the polls that filled their batch (workerState.fullPoll)
}

// setState records what the loop does now and publishes it.
func (p *poller) setState(st int32) {
	if p.ps.state != st {
		p.ps.state = st
		p.publish()
	}
}

// publish makes the poll state visible to Workers, as one value.
func (p *poller) publish() {
	ps := p.ps
	p.w.pollState.Store(&ps)
}

func newPoller(d pollerDeps, w *workerState) *poller {
	return &poller{
		pollerDeps: d,
		w:          w,
		strategy:   newPollStrategy(),
		pollErrLog: newErrLogLimiter("worker: poll failing", errorLogInterval, d.clock),
	}
}

// run polls until ctx ends (Shutdown) or the worker stops on a
// misconfiguration (fatal.go).
func (p *poller) run(ctx context.Context) {
	w := p.w
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	p.fatal.cancel = stop
	defer p.sched.gone(p.w)
	set := w.current()
	w.log.WithFields(logrus.Fields{"batchSize": set.slots, "pollInterval": set.pollInterval}).Info("worker: started")
	defer func() {
		p.setState(stateStopped)
		w.log.Info("worker: stopped polling")
	}()
	if set.paused {
		p.rec.PausedChanged(w.key.taskType, true)
	}
	p.rec.SlotsChanged(w.key.taskType, 0, int(set.slots))
	if !sleepCtx(ctx, p.clock, p.delay) {
		return
	}
	errPolicy := backoff.Policy{Min: pollBackoffMin, Max: pollBackoffMax}
	failures := 0
	// flowing: the last poll brought tasks, so poll again at once, without
	// asking the server to wait. The first poll is such a poll too.
	flowing := true
	var coalesceUntil time.Time // end of the current wait for more free slots
	for ctx.Err() == nil {
		set := w.current()
		if set.paused {
			p.releasePermit()
			p.setState(statePaused)
			p.waitSignal(ctx, 0)
			continue
		}
		free := set.slots - w.stats.slotsInUse()
		if free <= 0 {
			p.releasePermit()
			p.setState(stateWaitingForSlot)
			p.waitSignal(ctx, 0)
			continue
		}
		if flowing && w.backlog() && free < (set.slots+1)/2 {
			// Tasks are queued and fewer than half the slots are free:
			// wait up to pollCoalesce for more to free up, so that one poll
			// brings many tasks (see pollCoalesce).
			now := p.clock.Now()
			if coalesceUntil.IsZero() {
				coalesceUntil = now.Add(pollCoalesce)
			}
			if d := coalesceUntil.Sub(now); d > 0 {
				p.setState(stateWaitingForSlot)
				p.waitSignal(ctx, d)
				continue
			}
		}
		coalesceUntil = time.Time{}
		count := int(min(free, pollCountMax))
		var timeout time.Duration
		watchSize := -1 // the queue size that woke a watching worker
		if !flowing {
			var wait idleWait
			wait, timeout = p.planIdle(set)
			switch wait {
			case idleHold, idleProbe:
				// Ask for one task: a server that holds a poll until its
				// whole batch is there wakes it for the first task.
				count = 1
			case idleWatch:
				p.setState(stateWatching)
				woken, size := p.watch.wait(ctx, w.queue, set.pollInterval, p.sched.lastTaskOf(w), p.lastPollEnd, w.wake)
				if !woken {
					continue // re-plan: interval polls, a new setting, or shutdown
				}
				watchSize = size
			case idleInterval:
				if !p.idleSleep(ctx, set.pollInterval) {
					return
				}
			}
		}
		// The wait above may have lasted: settings read before it are
		// stale. Pause changes settings under settingsMu, so no poll starts
		// after Pause returned, and a poll without waiting asks for the
		// slots free now.
		w.settingsMu.Lock()
		if ctx.Err() != nil {
			w.settingsMu.Unlock()
			return // no poll starts once Shutdown has begun
		}
		set = w.current()
		free = set.slots - w.stats.slotsInUse()
		if set.paused || free <= 0 {
			w.settingsMu.Unlock()
			continue
		}
		if timeout == 0 {
			count = int(min(free, pollCountMax))
		}
		p.setState(statePolling)
		w.settingsMu.Unlock()
		prevEnd := p.lastPollEnd
		tasks, traces, elapsed, err := p.poll(ctx, count, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return // cancelled by Shutdown, not a server problem
			}
			failures++
			flowing = false
			p.setState(stateBackingOff)
			if !sleepCtx(ctx, p.clock, errPolicy.Delay(failures)) {
				return
			}
			continue
		}
		failures = 0
		if timeout == 0 && len(tasks) >= count {
			p.fullPoll++
			w.fullPoll.Store(p.fullPoll)
		} else {
			w.fullPoll.Store(0)
		}
		facts := p.strategy.observe(timeout > 0, elapsed, p.lastPollEnd.Sub(prevEnd), tasks)
		switch p.sched.polled(w, facts, tasks) {
		case newsWakes:
			w.log.WithField("pollTimeout", pollTimeoutDefault).Info("worker: server answers held polls as soon as a task is queued; idle polls now wait up to the long timeout")
		case newsWakesUndone:
			w.log.Info("worker: server did not answer a held poll when a task was queued; back to short idle polls")
		case newsNeverWakes:
			w.log.Info("worker: held polls do not pay on this server (tasks queued during them came late or not at all); idle workers of this runner are watched instead")
		}
		if len(tasks) > 0 {
			flowing = true
			p.releasePermit() // busy workers leave held polls to idle ones
			if p.work.Err() != nil {
				// The shutdown deadline passed while this poll was out:
				// nothing may run any more, so the tasks go back to the
				// queue for another worker instead of waiting out their
				// response timeout.
				for _, tt := range traces {
					tt.handedBack()
				}
				p.handBack(tasks)
				continue
			}
			p.dispatch(tasks, traces)
			continue
		}
		flowing = false
		if watchSize > 0 {
			p.watch.falseWake(w.queue, watchSize)
		}
		if timeout > 0 && elapsed < timeout/2 {
			// The server answered a held poll at once with nothing: it does
			// not hold polls. Wait the interval rather than spin.
			if !p.idleSleep(ctx, set.pollInterval) {
				return
			}
		}
	}
}

// planIdle decides how the worker waits for its empty queue, and the
// timeout of the poll it then makes, under the settings set.
func (p *poller) planIdle(set *workerSettings) (idleWait, time.Duration) {
	tc := set.timeout
	// A worker that never holds a poll (PollTimeout(0)) takes no permit:
	// another worker would wait for it in vain.
	// Nor does one on a server known not to wake held polls, unless the
	// user chose the timeout.
	permit := false
	if (tc.fixed && tc.d == 0) || (!tc.fixed && !p.sched.holdsUseful()) {
		p.releasePermit()
	} else {
		permit = p.acquirePermit()
	}
	wait := p.strategy.idle(tc, permit, p.watch.available(), p.sched.wakesProven())
	var cold time.Duration // the cold period of a cold worker's probe
	if wait == idleProbe && isCold(p.sched.lastTaskOf(p.w), p.clock.Now()) {
		cold = p.watch.coldPeriodWith(set.pollInterval)
	}
	timeout := p.strategy.heldTimeout(tc, wait, set.pollInterval, cold)
	p.ps.idleMode, p.ps.nextTimeout = wait, timeout
	p.publish()
	return wait, timeout
}

// idleSleep waits the poll interval, with jitter; false when ctx ended.
func (p *poller) idleSleep(ctx context.Context, interval time.Duration) bool {
	p.setState(stateIdleWait)
	return sleepCtx(ctx, p.clock, backoff.Jitter(interval, 0.2))
}

// acquirePermit asks the scheduler whether the worker may hold a poll; it
// reports whether the worker holds a permit.
func (p *poller) acquirePermit() bool {
	p.permit = p.sched.acquire(p.w)
	return p.permit
}

// releasePermit gives back the worker's permit, also one the scheduler
// reserved for it that it has not taken up yet.
func (p *poller) releasePermit() {
	p.sched.release(p.w)
	p.permit = false
}

// poll makes one batch poll and does its bookkeeping; it returns the tasks
// with their spans (nil when tracing is off). The request is not
// cancelled when ctx ends (Shutdown): a server may keep serving a poll
// whose client went away and hand it a task (Conductor 3.32 does), which
// then waits out its response timeout for a worker that is gone. So a poll
// once sent is always read to its end, which its timeout bounds.
func (p *poller) poll(ctx context.Context, count int, timeout time.Duration) ([]model.Task, []*taskTrace, time.Duration, error) {
	w := p.w
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout+pollRequestSlack)
	start := p.clock.Now()
	tasks, err := p.api.batchPoll(pctx, pollRequest{
		taskType: w.key.taskType,
		domain:   w.key.domain,
		workerID: p.workerID,
		count:    count,
		timeout:  timeout,
	})
	cancel()
	if bad, ok := undecodableTasks(err); ok && p.refuse != nil {
		p.refuse(bad) // the answer was good; some of its tasks were not
		err = nil
	}
	now := p.clock.Now()
	p.lastPollEnd = now
	elapsed := now.Sub(start)
	p.ps.polls++
	if err != nil {
		if ctx.Err() != nil {
			p.publish()
			return nil, nil, elapsed, err // Shutdown: no span, no metrics
		}
		p.trace.pollFailed(w.key.taskType, p.workerID, start, now, count, timeout, err)
		kind := classify(err).kind
		p.rec.PollDone(w.key.taskType, 0, elapsed, kind)
		p.ps.pollErrors++
		p.ps.lastErr = err.Error()
		p.publish() // before checkFatal, which counts this poll
		p.pollErrLog.failure(w.log, err)
		if h := p.hooks.OnWorkerError; h != nil {
			h(w.key.taskType, err)
		}
		p.checkFatal(err) // see fatal.go
		return nil, nil, elapsed, err
	}
	traces := p.trace.polled(w.key.taskType, p.workerID, start, now, count, timeout, tasks)
	p.ps.lastPoll = now.Round(0).UTC()
	p.ps.polledOK = true
	p.publish()
	p.pollErrLog.success(w.log)
	p.rec.PollDone(w.key.taskType, len(tasks), elapsed, "")
	if debugEnabled(w.log) {
		w.log.WithFields(logrus.Fields{"asked": count, "got": len(tasks), "timeout": timeout, "elapsed": elapsed}).Debug("worker: polled")
	}
	if h := p.hooks.OnPoll; h != nil {
		h(w.key.taskType, len(tasks))
	}
	if len(tasks) == 0 {
		if h := p.hooks.OnEmptyPoll; h != nil {
			h(w.key.taskType)
		}
	}
	return tasks, traces, elapsed, nil
}

// waitSignal blocks until a wake signal or the end of ctx, and at most d
// when d > 0.
func (p *poller) waitSignal(ctx context.Context, d time.Duration) {
	var timeout <-chan time.Time
	if d > 0 {
		t := p.clock.NewTimer(d)
		defer t.Stop()
		timeout = t.C()
	}
	select {
	case <-p.w.wake:
	case <-timeout:
	case <-ctx.Done():
	}
}

// sleepCtx waits d on clock; false when ctx ended first.
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
