package worker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/baton-go/baton/sdk/model"
)

// OpenTelemetry tracing.
//
// With WithTracerProvider, every task a worker receives gets a span
// "conductor.task <taskType>" from the start of the poll that brought it to
// the end of its result delivery, with three children: "conductor.poll"
// (the poll request; "received via update-v2" tasks have none),
// "conductor.execute" (the handler, with every middleware inside it; the
// handler's ctx carries this span, so spans the handler starts nest under
// it) and "conductor.update" (delivering the result, retries included).
// A failed poll is a span of its own; empty polls make no span, so an idle
// worker adds nothing to your traces.
//
// Continuing a trace across services: when the task's input has a W3C
// "traceparent" (and optionally "tracestate") entry, the task span is its
// child, so one trace follows a workflow through workers written in any
// language that do the same. Put it into the workflow's input with
// InjectTraceContext where the workflow is started, and hand it to each task
// in the workflow definition:
//
//	"inputParameters": {"traceparent": "${workflow.input.traceparent}"}
//
// A worker that does not trace pays one nil check per poll, task and
// update (BenchmarkTracingOff).

// TraceparentKey is the key of the task input (and workflow input) that
// carries a W3C trace context; its companion "tracestate" carries the
// vendor state, when there is any.
const TraceparentKey = "traceparent"

// tracestateKey carries the W3C trace state beside TraceparentKey.
const tracestateKey = "tracestate"

// instrumentationName names Baton's tracer.
const instrumentationName = "github.com/baton-go/baton/sdk/worker"

// Attribute keys of Baton's spans.
const (
	attrTaskType   = attribute.Key("conductor.task.type")
	attrTaskID     = attribute.Key("conductor.task.id")
	attrWorkflowID = attribute.Key("conductor.workflow.id")
	attrPollCount  = attribute.Key("conductor.task.poll_count")
	attrStatus     = attribute.Key("conductor.task.status")
	attrWorkerID   = attribute.Key("conductor.worker.id")
	attrDomain     = attribute.Key("conductor.task.domain")
	attrAsked      = attribute.Key("conductor.poll.requested")
	attrReceived   = attribute.Key("conductor.poll.received")
	attrTimeout    = attribute.Key("conductor.poll.timeout_ms")
	attrVia        = attribute.Key("conductor.task.received_via")
)

// WithTracerProvider turns on OpenTelemetry tracing of polls, executions
// and result updates with spans from tp (the application's SDK provider;
// Baton depends on the OpenTelemetry API only). Default: no tracing, at no
// cost. The global provider is not used unless you pass it
// (otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *runnerConfig) {
		if tp == nil {
			c.tracing = nil
			return
		}
		c.tracing = &tracing{tracer: tp.Tracer(instrumentationName)}
	}
}

// InjectTraceContext writes the W3C trace context of the span in ctx into
// input under TraceparentKey (and "tracestate" when there is state), so a
// workflow started with that input can be traced through its workers. It
// does nothing when ctx carries no valid span.
func InjectTraceContext(ctx context.Context, input map[string]interface{}) {
	if input == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	for k, v := range carrier {
		input[k] = v
	}
}

// remoteParent returns ctx with the trace context found in a task's input,
// if any.
func remoteParent(ctx context.Context, input map[string]interface{}) context.Context {
	tp, ok := input[TraceparentKey].(string)
	if !ok || tp == "" {
		return ctx
	}
	carrier := propagation.MapCarrier{TraceparentKey: tp}
	if ts, ok := input[tracestateKey].(string); ok {
		carrier[tracestateKey] = ts
	}
	return propagation.TraceContext{}.Extract(ctx, carrier)
}

// tracing holds the tracer and the span of every task between its poll and
// the end of its delivery.
type tracing struct {
	tracer trace.Tracer
	tasks  sync.Map // task id -> *taskTrace
}

type taskTrace struct {
	ctx    context.Context // carries the task span
	span   trace.Span
	gaveUp error // set by giveUp on the slot's goroutine
}

func taskAttrs(t *model.Task, workerID string) []attribute.KeyValue {
	a := []attribute.KeyValue{
		attrTaskType.String(t.TaskType),
		attrTaskID.String(t.TaskId),
		attrWorkflowID.String(t.WorkflowInstanceId),
		attrPollCount.Int(t.PollCount),
		attrWorkerID.String(workerID),
	}
	if t.Domain != "" {
		a = append(a, attrDomain.String(t.Domain))
	}
	return a
}

// pollFailed records a failed poll as a span of its own.
func (tr *tracing) pollFailed(taskType, workerID string, start, end time.Time, count int, timeout time.Duration, err error) {
	if tr == nil {
		return
	}
	_, s := tr.tracer.Start(context.Background(), "conductor.poll "+taskType,
		trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(pollAttrs(taskType, workerID, count, 0, timeout)...))
	s.RecordError(err)
	s.SetStatus(codes.Error, err.Error())
	s.End(trace.WithTimestamp(end))
}

// polled starts, for each task a poll brought, a task span beginning when
// the poll started, with the poll as its first child.
func (tr *tracing) polled(taskType, workerID string, start, end time.Time, count int, timeout time.Duration, tasks []model.Task) {
	if tr == nil {
		return
	}
	attrs := pollAttrs(taskType, workerID, count, len(tasks), timeout)
	for i := range tasks {
		tt := tr.begin(&tasks[i], workerID, start, "poll")
		_, s := tr.tracer.Start(tt.ctx, "conductor.poll "+taskType,
			trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
		s.End(trace.WithTimestamp(end))
	}
}

func pollAttrs(taskType, workerID string, asked, received int, timeout time.Duration) []attribute.KeyValue {
	return []attribute.KeyValue{
		attrTaskType.String(taskType), attrAsked.Int(asked), attrReceived.Int(received),
		attrTimeout.Int64(timeout.Milliseconds()), attrWorkerID.String(workerID),
	}
}

func (tr *tracing) begin(t *model.Task, workerID string, start time.Time, via string) *taskTrace {
	parent := remoteParent(context.Background(), t.InputData)
	ctx, span := tr.tracer.Start(parent, "conductor.task "+t.TaskType, trace.WithTimestamp(start),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(append(taskAttrs(t, workerID), attrVia.String(via))...))
	tt := &taskTrace{ctx: ctx, span: span}
	tr.tasks.Store(t.TaskId, tt)
	return tt
}

// traceContext is the base of a handler's context: ctx with the task span,
// so the execution span and the handler's own spans nest under it.
func (tr *tracing) taskContext(ctx context.Context, t *model.Task) context.Context {
	if tr == nil {
		return ctx
	}
	v, ok := tr.tasks.Load(t.TaskId)
	if !ok {
		return ctx
	}
	return trace.ContextWithSpan(ctx, v.(*taskTrace).span)
}

// traceMiddleware is the outermost middleware when tracing is on: the
// execution span, around every user middleware and the handler.
func (tr *tracing) middleware(workerID string) Middleware {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, t *model.Task) (out interface{}, err error) {
			ctx, span := tr.tracer.Start(ctx, "conductor.execute "+t.TaskType,
				trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(taskAttrs(t, workerID)...))
			defer func() {
				if v := recover(); v != nil {
					span.SetStatus(codes.Error, fmt.Sprintf("handler panicked: %v", v))
					span.End()
					panic(v) // the runner's recovery turns it into a FAILED result
				}
				if err != nil {
					span.RecordError(err)
					span.SetStatus(codes.Error, err.Error())
				}
				span.End()
			}()
			return next(ctx, t)
		}
	}
}

// deliverTraced delivers res inside an update span, ends the task's span
// with the final status, and starts the span of a task handed back by
// update-v2.
func (rp *reporter) deliverTraced(ctx context.Context, t *model.Task, res *model.TaskResult) *model.Task {
	tr := rp.trace
	if tr == nil {
		return rp.deliver(ctx, res)
	}
	v, ok := tr.tasks.Load(t.TaskId)
	if !ok {
		return rp.deliver(ctx, res)
	}
	tt := v.(*taskTrace)
	_, us := tr.tracer.Start(tt.ctx, "conductor.update "+t.TaskType, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrTaskType.String(t.TaskType), attrTaskID.String(t.TaskId), attrStatus.String(string(res.Status))))
	start := rp.clock.Now()
	next := rp.deliver(ctx, res)
	if tt.gaveUp != nil {
		us.RecordError(tt.gaveUp)
		us.SetStatus(codes.Error, "result not delivered: "+tt.gaveUp.Error())
	}
	us.End()
	tt.span.SetAttributes(attrStatus.String(string(res.Status)))
	switch {
	case tt.gaveUp != nil:
		tt.span.SetStatus(codes.Error, "result not delivered")
	case res.Status == model.FailedTask || res.Status == model.FailedWithTerminalErrorTask:
		tt.span.SetStatus(codes.Error, res.ReasonForIncompletion)
	}
	tt.span.End()
	tr.tasks.Delete(t.TaskId)
	if next != nil {
		tr.begin(next, rp.workerID, start, "update-v2")
	}
	return next
}

// gaveUp notes a result that was not delivered on its task's trace.
func (tr *tracing) gaveUp(res *model.TaskResult, err error) {
	if tr == nil {
		return
	}
	if v, ok := tr.tasks.Load(res.TaskId); ok {
		v.(*taskTrace).gaveUp = err
	}
}

// tracingMiddleware is the runner's execution-span middleware, or none.
func (r *TaskRunner) tracingMiddleware() []Middleware {
	if r.cfg.tracing == nil {
		return nil
	}
	return []Middleware{r.cfg.tracing.middleware(r.workerID)}
}
