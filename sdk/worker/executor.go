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

// leaseExtender is what an executor needs from the server: a way to tell
// it that a task is still being worked on.
type leaseExtender interface {
	updateTask(ctx context.Context, r *model.TaskResult) error
}

// executorDeps is everything an executor uses; the runner fills it in.
type executorDeps struct {
	handler  HandlerFunc // with the middleware chain applied
	lease    leaseExtender
	payload  payloadStore // payload.go
	clock    clockSource
	rec      Recorder
	hooks    Hooks
	trace    *tracing           // nil: no tracing
	log      logrus.FieldLogger // the runner's: the base of LoggerFromContext
	workerID string
}

// executor runs a worker's handler for one task at a time per slot: with
// the task's context and deadline, panic recovery and lease extension, and
// turns what the handler returned into the result to report. It knows
// nothing of polling or of how the result is delivered.
type executor struct {
	executorDeps
	w *workerState
}

// execute runs the handler for t and turns what it returned into the result
// to report. ctx is the runner's work context (ended by the shutdown
// deadline). The outcome is decided only after the handler has returned (or
// panicked), never by watching the context.
//
// It fills in j.lease while the handler runs and j.res, which it returns.
func (e *executor) execute(ctx context.Context, j *job) *model.TaskResult {
	j.res = e.run(ctx, j)
	return j.res
}

func (e *executor) run(ctx context.Context, j *job) *model.TaskResult {
	t := j.task
	if needsInput(t) {
		if err := e.fetchInput(ctx, t); err != nil {
			return e.inputFailed(t, err)
		}
	}
	info := newExecInfo(t, e.workerID, e.log)
	hctx := withExecInfo(j.trace.context(ctx), info)
	var cancel context.CancelFunc
	if dl, ok := taskDeadline(t, e.clock.Now()); ok {
		hctx, cancel = context.WithDeadline(hctx, dl)
	}
	if h := e.hooks.OnTaskStarted; h != nil {
		h(t)
	}
	e.rec.ExecuteStarted(t.TaskType)
	start := e.clock.Now()
	j.lease = e.startLease(ctx, t)
	out, err, panicked := callHandler(hctx, e.handler, t)
	j.lease.stop()
	if cancel != nil {
		cancel()
	}
	end := e.clock.Now()
	d := end.Sub(start)

	res, size := resultOf(t, e.workerID, out, err)
	e.storeOutput(ctx, t, res, int64(size))
	info.xlog.attach(res, end)
	kind := outcomeKind(res, out, err, panicked)
	if kind != "" && res.Status != model.InProgressTask && res.Status != model.CompletedTask {
		e.w.stats.failed()
	}
	e.rec.ExecuteDone(t.TaskType, d, string(res.Status), kind, size)
	if h := e.hooks.OnTaskFinished; h != nil {
		h(t, res.Status, d)
	}
	// One line per failed execution, with what a person needs to find the
	// cause: the panic value and stack, the handler's error, or why the
	// output could not be sent.
	log := e.w.log
	switch {
	case panicked:
		var pe *panicError
		if errors.As(err, &pe) {
			log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "panic": fmt.Sprint(pe.value), "stack": pe.stack}).
				Errorf("worker: handler panicked: %v; task reported %s", pe.value, res.Status)
		}
	case err != nil:
		log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "status": res.Status, "duration": d}).WithError(err).
			Warnf("worker: handler failed; task reported %s", res.Status)
	case kind == ErrorKindOutput:
		log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "status": res.Status, "reason": res.ReasonForIncompletion}).
			Warnf("worker: handler output cannot be sent; task reported %s", res.Status)
	case debugEnabled(log):
		log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId, "status": res.Status, "duration": d}).Debug("worker: handler returned")
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
	e      *executor
	ctx    context.Context // the runner's work context
	t      *model.Task
	period time.Duration

	mu      sync.Mutex
	timer   clockTimer
	stopped bool
	firing  sync.WaitGroup
}

func (e *executor) startLease(ctx context.Context, t *model.Task) *lease {
	if t.ResponseTimeoutSeconds <= 0 || e.w.noLease {
		return nil
	}
	period := max(time.Duration(t.ResponseTimeoutSeconds)*time.Second/2, leaseExtendMinPeriod)
	l := &lease{e: e, ctx: ctx, t: t, period: period}
	l.mu.Lock()
	l.timer = e.clock.AfterFunc(period, l.fire)
	l.mu.Unlock()
	return l
}

func (l *lease) fire() {
	l.mu.Lock()
	// After the shutdown deadline the result will not be posted either: let
	// the server time the task out and hand it to another worker.
	if l.stopped || l.ctx.Err() != nil {
		l.mu.Unlock()
		return
	}
	l.firing.Add(1)
	l.mu.Unlock()
	defer l.firing.Done()

	e := l.e
	ctx, cancel := context.WithTimeout(l.ctx, min(updateAttemptTimeout, l.period))
	// No status: a server that does not know extendLease rejects the update
	// instead of treating it as an IN_PROGRESS result (which would re-queue
	// the task while it is still running).
	err := e.lease.updateTask(ctx, &model.TaskResult{
		TaskId:             l.t.TaskId,
		WorkflowInstanceId: l.t.WorkflowInstanceId,
		WorkerId:           e.workerID,
		ExtendLease:        true,
		OutputData:         map[string]interface{}{},
	})
	cancel()
	if err == nil {
		e.rec.LeaseExtended(l.t.TaskType)
		if debugEnabled(e.w.log) {
			e.w.log.WithField("taskId", l.t.TaskId).Debug("worker: lease extended")
		}
	} else {
		e.w.log.WithError(err).WithField("taskId", l.t.TaskId).Warn("worker: lease extension failed")
		if h := e.hooks.OnWorkerError; h != nil {
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
		l.timer = e.clock.AfterFunc(next, l.fire)
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
