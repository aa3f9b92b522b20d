package worker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/backoff"
	"github.com/baton-go/baton/internal/retry"
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

// resultPoster is what a reporter needs from the server.
type resultPoster interface {
	updateTask(ctx context.Context, r *model.TaskResult) error
	// updateTaskV2 posts r and returns the next task of the same type and
	// domain, or nil; an error matching errUpdateV2Unsupported when the
	// server lacks the endpoint.
	updateTaskV2(ctx context.Context, r *model.TaskResult) (*model.Task, error)
}

// updateV2 is the runner's update-v2 switch: on when WithUpdateV2 asked for
// it, off for good once the server has shown it lacks the endpoint.
type updateV2 struct {
	wanted bool
	off    atomic.Bool
}

func (u *updateV2) usable() bool { return u.wanted && !u.off.Load() }

// reporterDeps is everything a reporter uses; the runner fills it in.
type reporterDeps struct {
	api   resultPoster
	v2    *updateV2
	clock clockSource
	rec   Recorder
	hooks Hooks
	trace *tracing // nil: no tracing
	// workerID names the runner on the spans of tasks update-v2 hands back.
	workerID string
	// polling is the runner's fetch context: once it ends (Shutdown) no
	// task is taken back through update-v2.
	polling context.Context
	// refuse fails tasks update-v2 handed back that cannot be decoded.
	refuse func([]client.UndecodableTask)
}

// reporter delivers a worker's results. It retries a result the server did
// not accept until the server takes it, rejects it for good, or the
// shutdown deadline passes; the one place a result is abandoned (giveUp)
// logs it, counts it and calls the hook. It never drops one silently.
type reporter struct {
	reporterDeps
	w      *workerState
	errLog *errLogLimiter
}

func newReporter(d reporterDeps, w *workerState) *reporter {
	return &reporter{reporterDeps: d, w: w, errLog: newErrLogLimiter("worker: result updates failing", errorLogInterval, d.clock)}
}

// takesNext says whether the slot that posts a result may take the next
// task back through update-v2. update-v2 saves the next poll, but only a
// slot that will stay busy may take a task: not while pausing, shutting
// down or shrinking. And only while the queue has a backlog: the server
// looks for the next task with a poll held for 100 ms
// (ExecutionService.getLastPollTask), which on an empty queue holds the slot
// and a server thread for nothing.
//
// It also returns the full poll behind the backlog, for queueRanDry.
func (rp *reporter) takesNext() (bool, uint64) {
	w := rp.w
	set := w.current()
	n := w.backlogOf()
	return n != 0 && rp.v2.usable() && !set.paused && rp.polling.Err() == nil &&
		w.stats.slotsInUse() <= set.slots, n
}

// deliver posts res until the server accepts it, rejects it for good, or the
// shutdown deadline passes (ctx, the runner's work context, ends). Each
// attempt gets a fresh context with its own timeout. It returns how
// delivery ended: the next task when the server handed one back through
// update-v2 (already IN_PROGRESS on the server: it must be run), or why the
// result was given up.
//
// What each failure means comes from the client's failure table
// (retry.Decide, column Result): retried until the deadline when a
// later attempt may succeed; given up after retry.FewAttempts when
// Conductor said a retry cannot help (500 with "retryable": false, which a
// busy store also answers); given up at once when it cannot succeed (4xx:
// the task is gone, the result is invalid); and, for answers that prove the
// configuration wrong (401/403 after a fresh token), counted as evidence
// toward the worker's stop (fatal.go), after which it is given up. A post
// to update-v2 that failed is sent again as a plain update: a resent
// update-v2 would take another task off the queue each time, a plain
// update is harmless to repeat, and the next poll fetches the next task.
func (rp *reporter) deliver(ctx context.Context, res *model.TaskResult) delivery {
	w := rp.w
	useV2, backlogOf := rp.takesNext()
	if res.TaskId == "" || res.WorkflowInstanceId == "" {
		// The server cannot accept it (and the client refuses to send it).
		return rp.giveUp(res, fmt.Errorf("result has no task id or workflow id (task id %q, workflow id %q)", res.TaskId, res.WorkflowInstanceId))
	}
	policy := backoff.Policy{Min: updateBackoffMin, Max: updateBackoffMax}
	var lastErr error
	few := 0 // attempts answered RetryFew
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return rp.giveUp(res, shutdownErr(lastErr))
		}
		actx, cancel := context.WithTimeout(ctx, updateAttemptTimeout)
		start := rp.clock.Now()
		var next *model.Task
		var err error
		if useV2 {
			next, err = rp.api.updateTaskV2(actx, res)
			if bad, ok := undecodableTasks(err); ok {
				// The result was accepted; the next task was not usable.
				if rp.refuse != nil {
					rp.refuse(bad)
				}
				next, err = nil, nil
			}
			if err != nil && errors.Is(err, errUpdateV2Unsupported) {
				cancel()
				if !rp.v2.off.Swap(true) {
					w.log.Info("worker: server has no update-v2; using plain updates")
				}
				useV2 = false
				attempt--
				continue
			}
		} else {
			err = rp.api.updateTask(actx, res)
		}
		cancel()
		d := rp.clock.Now().Sub(start)
		if err == nil {
			w.fatal.accepted.Add(1)
			rp.rec.UpdateDone(w.key.taskType, d, "")
			rp.errLog.success(w.log)
			if debugEnabled(w.log) {
				w.log.WithFields(logrus.Fields{"taskId": res.TaskId, "status": res.Status, "duration": d, "attempt": attempt}).Debug("worker: result posted")
			}
			if useV2 && next == nil {
				w.queueRanDry(backlogOf)
			}
			return delivery{next: next}
		}
		c := classify(err)
		rp.rec.UpdateDone(w.key.taskType, d, c.kind)
		lastErr = err
		useV2 = false // from now on a plain update, harmless to repeat
		if ctx.Err() != nil {
			return rp.giveUp(res, shutdownErr(err))
		}
		switch retry.Decide(retry.Result, err) {
		case retry.GiveUp:
			return rp.giveUp(res, fmt.Errorf("server rejected the result: %w", err))
		case retry.Few:
			if few++; few >= retry.FewAttempts {
				return rp.giveUp(res, fmt.Errorf("server refused the result %d times and said a retry cannot help: %w", few, err))
			}
		case retry.Misconfigured:
			if ce := w.evidence(err, retry.Result, rp.clock.Now()); ce != nil {
				return rp.giveUp(res, fmt.Errorf("%w; last error: %w", ce, err))
			}
		}
		if ce := w.fatal.stoppedErr(); ce != nil {
			// The worker stopped (its polls proved the configuration
			// wrong): nothing more will be retried, so that WaitWorkers
			// returns.
			return rp.giveUp(res, fmt.Errorf("%w; last error: %w", ce, err))
		}
		if h := rp.hooks.OnUpdateFailed; h != nil {
			h(res, err, attempt)
		}
		if attempt >= updateWarnAfter {
			rp.errLog.failure(w.log, err)
		} else if debugEnabled(w.log) {
			w.log.WithError(err).WithFields(logrus.Fields{"taskId": res.TaskId, "attempt": attempt}).Debug("worker: posting result failed; will retry")
		}
		delay := policy.Delay(attempt)
		if c.retryAfter > delay {
			delay = c.retryAfter
		}
		if !rp.sleep(ctx, delay) {
			if ce := w.fatal.stoppedErr(); ce != nil && ctx.Err() == nil {
				return rp.giveUp(res, fmt.Errorf("%w; last error: %w", ce, err))
			}
			return rp.giveUp(res, shutdownErr(err))
		}
	}
}

// sleep waits d before the next attempt; false when ctx ended or the
// worker stopped on a misconfiguration first.
func (rp *reporter) sleep(ctx context.Context, d time.Duration) bool {
	t := rp.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	case <-rp.w.fatal.doneCh():
		return false
	}
}

func shutdownErr(last error) error {
	if last == nil {
		return fmt.Errorf("%w: shutdown deadline passed before the result was posted", ErrShutdown)
	}
	return fmt.Errorf("%w: shutdown deadline passed before the result was posted; last error: %w", ErrShutdown, last)
}

// giveUp is the one place a result is abandoned: it is logged, counted and
// handed to the hook, never dropped silently. It returns the delivery's end
// for deliver to return.
func (rp *reporter) giveUp(res *model.TaskResult, err error) delivery {
	rp.w.stats.gaveUp()
	rp.rec.UpdateGaveUp(rp.w.key.taskType)
	rp.w.log.WithError(err).WithFields(logrus.Fields{
		"taskId":     res.TaskId,
		"workflowId": res.WorkflowInstanceId,
		"status":     res.Status,
	}).Error("worker: giving up on posting a task result")
	if h := rp.hooks.OnUpdateGaveUp; h != nil {
		h(res, err)
	}
	return delivery{gaveUp: err}
}
