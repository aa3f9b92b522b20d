package worker

import (
	"context"
	"fmt"
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

// tracing holds the tracer. Each task's span travels with the task itself
// (job.trace), from its poll to the end of its delivery.
type tracing struct {
	tracer trace.Tracer
}

// taskTrace is one task's span and the context that carries it.
type taskTrace struct {
	tracer trace.Tracer
	ctx    context.Context // carries the task span
	span   trace.Span
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
// the poll started, with the poll as its first child. It returns the spans
// in the order of tasks, or nil when tracing is off.
func (tr *tracing) polled(taskType, workerID string, start, end time.Time, count int, timeout time.Duration, tasks []model.Task) []*taskTrace {
	if tr == nil {
		return nil
	}
	attrs := pollAttrs(taskType, workerID, count, len(tasks), timeout)
	traces := make([]*taskTrace, len(tasks))
	for i := range tasks {
		tt := tr.begin(&tasks[i], workerID, start, "poll")
		_, s := tr.tracer.Start(tt.ctx, "conductor.poll "+taskType,
			trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
		s.End(trace.WithTimestamp(end))
		traces[i] = tt
	}
	return traces
}

func pollAttrs(taskType, workerID string, asked, received int, timeout time.Duration) []attribute.KeyValue {
	return []attribute.KeyValue{
		attrTaskType.String(taskType), attrAsked.Int(asked), attrReceived.Int(received),
		attrTimeout.Int64(timeout.Milliseconds()), attrWorkerID.String(workerID),
	}
}

// begin starts a task's span; nil when tracing is off.
func (tr *tracing) begin(t *model.Task, workerID string, start time.Time, via string) *taskTrace {
	if tr == nil {
		return nil
	}
	parent := remoteParent(context.Background(), t.InputData)
	ctx, span := tr.tracer.Start(parent, "conductor.task "+t.TaskType, trace.WithTimestamp(start),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(append(taskAttrs(t, workerID), attrVia.String(via))...))
	return &taskTrace{tracer: tr.tracer, ctx: ctx, span: span}
}

// context is the base of a handler's context: ctx with the task span, so
// the execution span and the handler's own spans nest under it.
func (tt *taskTrace) context(ctx context.Context) context.Context {
	if tt == nil {
		return ctx
	}
	return trace.ContextWithSpan(ctx, tt.span)
}

// handedBack ends the span of a task that arrived too late to run and went
// back to its queue.
func (tt *taskTrace) handedBack() {
	if tt == nil {
		return
	}
	tt.span.SetStatus(codes.Error, "arrived after the shutdown deadline; handed back to the queue")
	tt.span.End()
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

// report delivers j's result, inside an update span when the task is
// traced, notes how delivery ended in j.end, ends the task's span with the
// final status, and returns the job of the task update-v2 handed back (its
// span begun), or nil.
func (rp *reporter) report(ctx context.Context, j *job) *job {
	t, res := j.task, j.res
	var us trace.Span
	if j.trace != nil {
		_, us = j.trace.tracer.Start(j.trace.ctx, "conductor.update "+t.TaskType, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attrTaskType.String(t.TaskType), attrTaskID.String(t.TaskId), attrStatus.String(string(res.Status))))
	}
	start := rp.clock.Now()
	j.end = rp.deliver(ctx, res)
	if tt := j.trace; tt != nil {
		if j.end.gaveUp != nil {
			us.RecordError(j.end.gaveUp)
			us.SetStatus(codes.Error, "result not delivered: "+j.end.gaveUp.Error())
		}
		us.End()
		tt.span.SetAttributes(attrStatus.String(string(res.Status)))
		switch {
		case j.end.gaveUp != nil:
			tt.span.SetStatus(codes.Error, "result not delivered")
		case res.Status == model.FailedTask || res.Status == model.FailedWithTerminalErrorTask:
			tt.span.SetStatus(codes.Error, res.ReasonForIncompletion)
		}
		tt.span.End()
	}
	return rp.nextJob(j.end.next, start)
}

// nextJob is the job of a task update-v2 handed back with a result whose
// delivery began at start; nil when there is none.
func (rp *reporter) nextJob(next *model.Task, start time.Time) *job {
	if next == nil {
		return nil
	}
	return &job{task: next, trace: rp.trace.begin(next, rp.workerID, start, "update-v2")}
}

// tracingMiddleware is the runner's execution-span middleware, or none.
func (r *TaskRunner) tracingMiddleware() []Middleware {
	if r.cfg.tracing == nil {
		return nil
	}
	return []Middleware{r.cfg.tracing.middleware(r.workerID)}
}
