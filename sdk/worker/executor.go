package worker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
)

// execute runs the handler for t and turns what it returned into the result
// to report. The outcome is decided only after the handler has returned (or
// panicked), never by watching the context.
func (p *poller) execute(t *model.Task) *model.TaskResult {
	r := p.r
	info := newExecInfo(t, r.workerID, r.log)
	ctx := withExecInfo(p.traceContext(r.workCtx, t), info)
	var cancel context.CancelFunc
	if dl, ok := taskDeadline(t, r.clock.Now()); ok {
		ctx, cancel = context.WithDeadline(ctx, dl)
	}
	if h := r.hooks.OnTaskStarted; h != nil {
		h(t)
	}
	r.rec.ExecuteStarted(t.TaskType)
	start := r.clock.Now()
	ls := p.startLease(t)
	out, err, panicked := callHandler(ctx, p.handler, t)
	ls.stop()
	if cancel != nil {
		cancel()
	}
	end := r.clock.Now()
	d := end.Sub(start)

	res, size := resultOf(t, r.workerID, out, err)
	info.xlog.attach(res, end)
	kind := outcomeKind(res, out, err, panicked)
	if kind != "" && res.Status != model.InProgressTask && res.Status != model.CompletedTask {
		p.failures.Add(1)
	}
	r.rec.ExecuteDone(t.TaskType, d, string(res.Status), kind, size)
	if h := r.hooks.OnTaskFinished; h != nil {
		h(t, res.Status, d)
	}
	// One line per failed execution, with what a person needs to find the
	// cause: the panic value and stack, the handler's error, or why the
	// output could not be sent.
	switch {
	case panicked:
		var pe *panicError
		if errors.As(err, &pe) {
			p.log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "panic": fmt.Sprint(pe.value), "stack": pe.stack}).
				Errorf("worker: handler panicked: %v; task reported %s", pe.value, res.Status)
		}
	case err != nil:
		p.log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "status": res.Status, "duration": d}).WithError(err).
			Warnf("worker: handler failed; task reported %s", res.Status)
	case kind == ErrorKindOutput:
		p.log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "status": res.Status, "reason": res.ReasonForIncompletion}).
			Warnf("worker: handler output cannot be sent; task reported %s", res.Status)
	case debugEnabled(p.log):
		p.log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "status": res.Status, "duration": d}).Debug("worker: handler returned")
	}
	return res
}

// taskDeadline is when the server will time the task out regardless of lease
// extensions: its definition's timeoutSeconds counted from the first start.
func taskDeadline(t *model.Task, now time.Time) (time.Time, bool) {
	def := t.TaskDefinition
	if def == nil && t.WorkflowTask != nil {
		def = t.WorkflowTask.TaskDefinition
	}
	if def == nil || def.TimeoutSeconds <= 0 {
		return time.Time{}, false
	}
	start := now
	if t.StartTime > 0 {
		start = time.UnixMilli(t.StartTime)
	}
	return start.Add(time.Duration(def.TimeoutSeconds) * time.Second), true
}

func callHandler(ctx context.Context, h HandlerFunc, t *model.Task) (out interface{}, err error, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			out, err, panicked = nil, &panicError{value: v, stack: panicStack()}, true
		}
	}()
	out, err = h(ctx, t)
	return out, err, false
}

// panicError is the error a handler panic becomes; its text is the reason
// for incompletion the server stores (cut to 500 bytes there).
type panicError struct {
	value interface{}
	stack string
}

func (e *panicError) Error() string {
	return fmt.Sprintf("handler panicked: %v\n%s", e.value, e.stack)
}

// panicStack describes the panicking goroutine's stack from the frame that
// panicked up to the handler call: one "function (file:line)" per line, no
// runtime frames, no frames of the runner, at most 12 frames.
func panicStack() string {
	var pcs [48]uintptr
	n := runtime.Callers(3, pcs[:]) // skip Callers, panicStack, the deferred func
	frames := runtime.CallersFrames(pcs[:n])
	var b strings.Builder
	kept := 0
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "/sdk/worker.callHandler") {
			break
		}
		if !strings.HasPrefix(f.Function, "runtime.") && kept < 12 {
			fmt.Fprintf(&b, "%s (%s:%d)\n", f.Function, filepath.Base(f.File), f.Line)
			kept++
		}
		if !more {
			break
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// outcomeKind is the metrics error kind of a handler outcome ("" = none).
func outcomeKind(res *model.TaskResult, out interface{}, err error, panicked bool) ErrorKind {
	switch {
	case panicked:
		return ErrorKindPanic
	case err != nil && model.IsNonRetryable(err):
		return ErrorKindTerminal
	case err != nil:
		return ErrorKindHandler
	}
	switch out.(type) {
	case *model.TaskResult, model.TaskResult:
		if res.Status == model.FailedTask || res.Status == model.FailedWithTerminalErrorTask {
			return ErrorKindHandler
		}
		return ""
	}
	if res.Status == model.FailedTask || res.Status == model.FailedWithTerminalErrorTask {
		return ErrorKindOutput // the output could not be encoded
	}
	return ""
}

// lease keeps a long-running task alive on the server: while the handler
// runs, it sends an extendLease update every half responseTimeoutSeconds, so
// the server's response timeout does not fire. No goroutine exists between
// extensions (a timer calls fire).
type lease struct {
	p      *poller
	t      *model.Task
	period time.Duration

	mu      sync.Mutex
	timer   clockTimer
	stopped bool
	firing  sync.WaitGroup
}

func (p *poller) startLease(t *model.Task) *lease {
	if t.ResponseTimeoutSeconds <= 0 || p.noLease {
		return nil
	}
	period := max(time.Duration(t.ResponseTimeoutSeconds)*time.Second/2, LeaseExtendMinPeriod)
	l := &lease{p: p, t: t, period: period}
	l.mu.Lock()
	l.timer = p.r.clock.AfterFunc(period, l.fire)
	l.mu.Unlock()
	return l
}

func (l *lease) fire() {
	l.mu.Lock()
	// After the shutdown deadline the result will not be posted either: let
	// the server time the task out and hand it to another worker.
	if l.stopped || l.p.r.workCtx.Err() != nil {
		l.mu.Unlock()
		return
	}
	l.firing.Add(1)
	l.mu.Unlock()
	defer l.firing.Done()

	p, r := l.p, l.p.r
	ctx, cancel := context.WithTimeout(r.workCtx, min(UpdateAttemptTimeout, l.period))
	// No status: a server that does not know extendLease rejects the update
	// instead of treating it as an IN_PROGRESS result (which would re-queue
	// the task while it is still running).
	err := r.api.updateTask(ctx, &model.TaskResult{
		TaskId:             l.t.TaskId,
		WorkflowInstanceId: l.t.WorkflowInstanceId,
		WorkerId:           r.workerID,
		ExtendLease:        true,
		OutputData:         map[string]interface{}{},
	})
	cancel()
	if err == nil {
		r.rec.LeaseExtended(l.t.TaskType)
		if debugEnabled(p.log) {
			p.log.WithField("taskId", l.t.TaskId).Debug("worker: lease extended")
		}
	} else {
		p.log.WithError(err).WithField("taskId", l.t.TaskId).Warn("worker: lease extension failed")
		if h := r.hooks.OnWorkerError; h != nil {
			h(l.t.TaskType, fmt.Errorf("extending lease of task %s: %w", l.t.TaskId, err))
		}
	}
	// A failed extension is tried again soon rather than a whole period
	// later: the server's clock keeps running, and waiting half the response
	// timeout again would leave no second chance before it fires.
	next := l.period
	if err != nil {
		next = max(l.period/4, leaseRetryMin)
	}
	l.mu.Lock()
	if !l.stopped {
		l.timer = r.clock.AfterFunc(next, l.fire)
	}
	l.mu.Unlock()
}

// leaseRetryMin is the shortest wait before retrying a failed extension.
const leaseRetryMin = 100 * time.Millisecond

// stop ends the extensions and waits for one in flight.
func (l *lease) stop() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.stopped = true
	l.timer.Stop()
	l.mu.Unlock()
	l.firing.Wait()
}
