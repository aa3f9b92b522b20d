package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/backoff"
	"github.com/baton-go/baton/sdk/model"
)

// deliver posts res until the server accepts it, rejects it for good, or the
// shutdown deadline passes (workCtx ends). Each attempt gets a fresh context
// with its own timeout. It returns the next task when the server handed one
// back through update-v2; that task is already IN_PROGRESS on the server and
// must be run.
func (p *poller) deliver(res *model.TaskResult) *model.Task {
	r := p.r
	// update-v2 saves the next poll, but only a slot that will stay busy may
	// take a task: not while pausing, shutting down or shrinking.
	// And only while the queue has a backlog: the server looks for the next
	// task with a poll held for 100 ms (ExecutionService.getLastPollTask),
	// which on an empty queue holds the slot and a server thread for nothing.
	useV2 := r.cfg.updateV2 && !r.v2Off.Load() && !p.paused.Load() &&
		r.fetchCtx.Err() == nil && p.inFlight.Load() <= p.slots.Load() && p.backlog.Load()
	if res.TaskId == "" || res.WorkflowInstanceId == "" {
		// The server cannot accept it (and the client refuses to send it).
		p.giveUp(res, fmt.Errorf("result has no task id or workflow id (task id %q, workflow id %q)", res.TaskId, res.WorkflowInstanceId))
		return nil
	}
	policy := backoff.Policy{Min: UpdateBackoffMin, Max: UpdateBackoffMax}
	var lastErr error
	for attempt := 1; ; attempt++ {
		if r.workCtx.Err() != nil {
			p.giveUp(res, shutdownErr(lastErr))
			return nil
		}
		ctx, cancel := context.WithTimeout(r.workCtx, UpdateAttemptTimeout)
		start := r.clock.Now()
		var next *model.Task
		var err error
		if useV2 {
			next, err = r.api.updateTaskV2(ctx, res)
			if err != nil && errors.Is(err, errUpdateV2Unsupported) {
				cancel()
				if !r.v2Off.Swap(true) {
					p.log.Info("worker: server has no update-v2; using plain updates")
				}
				useV2 = false
				attempt--
				continue
			}
		} else {
			err = r.api.updateTask(ctx, res)
		}
		cancel()
		d := r.clock.Now().Sub(start)
		if err == nil {
			r.rec.UpdateDone(p.key.taskType, d, "")
			p.updateErrLog.success(p.log)
			if debugEnabled(p.log) {
				p.log.WithFields(logrus.Fields{"taskId": res.TaskId, "status": res.Status, "duration": d, "attempt": attempt}).Debug("worker: result posted")
			}
			if useV2 && next == nil {
				p.backlog.Store(false) // the queue ran dry
			}
			return next
		}
		c := classify(err)
		r.rec.UpdateDone(p.key.taskType, d, c.kind)
		lastErr = err
		if r.workCtx.Err() != nil {
			p.giveUp(res, shutdownErr(err))
			return nil
		}
		if !c.retryable {
			p.giveUp(res, fmt.Errorf("server rejected the result: %w", err))
			return nil
		}
		if h := r.hooks.OnUpdateFailed; h != nil {
			h(res, err, attempt)
		}
		if attempt >= UpdateWarnAfter {
			p.updateErrLog.failure(p.log, err)
		} else if debugEnabled(p.log) {
			p.log.WithError(err).WithFields(logrus.Fields{"taskId": res.TaskId, "attempt": attempt}).Debug("worker: posting result failed; will retry")
		}
		delay := policy.Delay(attempt)
		if c.retryAfter > delay {
			delay = c.retryAfter
		}
		if !sleepCtx(r.workCtx, r.clock, delay) {
			p.giveUp(res, shutdownErr(err))
			return nil
		}
	}
}

func shutdownErr(last error) error {
	if last == nil {
		return fmt.Errorf("%w: shutdown deadline passed before the result was posted", ErrShutdown)
	}
	return fmt.Errorf("%w: shutdown deadline passed before the result was posted; last error: %w", ErrShutdown, last)
}

// giveUp is the one place a result is abandoned: it is logged, counted and
// handed to the hook, never dropped silently.
func (p *poller) giveUp(res *model.TaskResult, err error) {
	p.giveUps.Add(1)
	p.traceGaveUp(res, err)
	p.r.rec.UpdateGaveUp(p.key.taskType)
	p.log.WithError(err).WithFields(logrus.Fields{
		"taskId":     res.TaskId,
		"workflowId": res.WorkflowInstanceId,
		"status":     res.Status,
	}).Error("worker: giving up on posting a task result")
	if h := p.r.hooks.OnUpdateGaveUp; h != nil {
		h(res, err)
	}
}
