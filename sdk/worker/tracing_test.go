package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

func newSpanExporter(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, prefix string) []tracetest.SpanStub {
	t.Helper()
	var out []tracetest.SpanStub
	for _, s := range spans {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// The caller starts a workflow inside its own span and passes the trace
// context in the input; the worker's spans continue that trace.
func TestTracingContinuesTheCallersTrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, exp := newSpanExporter(t)
		b := setup(t, WithTracerProvider(tp))
		h := func(ctx context.Context, task *model.Task) (interface{}, error) {
			_, s := tp.Tracer("user").Start(ctx, "user work")
			s.End()
			return map[string]interface{}{"ok": true}, nil
		}
		if err := b.r.Start("traced", h); err != nil {
			t.Fatal(err)
		}
		callerCtx, caller := tp.Tracer("caller").Start(context.Background(), "caller")
		ts := makeTasks("traced", "tr", 1)
		InjectTraceContext(callerCtx, ts[0].InputData)
		caller.End()
		b.f.push("", ts...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 1 })
		waitFor(t, 5*time.Minute, "task span ended", func() bool { return len(spanNamed(t, exp.GetSpans(), "conductor.task")) == 1 })

		spans := exp.GetSpans()
		task := spanNamed(t, spans, "conductor.task traced")[0]
		if task.SpanContext.TraceID() != caller.SpanContext().TraceID() || task.Parent.SpanID() != caller.SpanContext().SpanID() {
			t.Fatalf("task span is not a child of the caller's span: trace %s parent %s", task.SpanContext.TraceID(), task.Parent.SpanID())
		}
		for _, name := range []string{"conductor.poll traced", "conductor.execute traced", "conductor.update traced"} {
			ss := spanNamed(t, spans, name)
			if len(ss) != 1 || ss[0].Parent.SpanID() != task.SpanContext.SpanID() {
				t.Fatalf("want one %q span under the task span, got %d", name, len(ss))
			}
		}
		exec := spanNamed(t, spans, "conductor.execute")[0]
		user := spanNamed(t, spans, "user work")
		if len(user) != 1 || user[0].Parent.SpanID() != exec.SpanContext.SpanID() {
			t.Fatal("the handler's own span does not nest under the execution span")
		}
		if attr(task, "conductor.task.id") != "tr-0" || attr(task, "conductor.workflow.id") != "wf-tr" ||
			attr(task, "conductor.task.poll_count") != "1" || attr(task, "conductor.task.status") != "COMPLETED" {
			t.Fatalf("task span attributes %v", task.Attributes)
		}
		if p := spanNamed(t, spans, "conductor.poll")[0]; p.EndTime.After(exec.StartTime) {
			t.Fatal("poll span ends after the execution started")
		}
	})
}

func TestTracingRecordsFailuresAndStartsANewTraceWithoutTraceparent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, exp := newSpanExporter(t)
		b := setup(t, WithTracerProvider(tp))
		h := func(ctx context.Context, task *model.Task) (interface{}, error) {
			if task.TaskId == "f-1" {
				panic("kaput")
			}
			return nil, errors.New("card declined")
		}
		if err := b.r.Start("fails", h); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("fails", "f", 2)...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 2 })
		waitFor(t, 5*time.Minute, "task spans", func() bool { return len(spanNamed(t, exp.GetSpans(), "conductor.task")) == 2 })
		spans := exp.GetSpans()
		for _, task := range spanNamed(t, spans, "conductor.task") {
			if task.Parent.IsValid() {
				t.Fatal("a task without traceparent should start its own trace")
			}
			if task.Status.Code != codes.Error || attr(task, "conductor.task.status") != "FAILED" {
				t.Fatalf("task span %s: status %v", attr(task, "conductor.task.id"), task.Status)
			}
		}
		for _, ex := range spanNamed(t, spans, "conductor.execute") {
			want := "card declined"
			if attr(ex, "conductor.task.id") == "f-1" {
				want = "handler panicked: kaput"
			}
			if ex.Status.Code != codes.Error || !strings.Contains(ex.Status.Description, want) {
				t.Fatalf("execute span of %s: %+v", attr(ex, "conductor.task.id"), ex.Status)
			}
		}
	})
}

func TestTracingMarksUndeliveredResultsAndFailedPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, exp := newSpanExporter(t)
		b := setup(t, WithTracerProvider(tp))
		b.f.updErr = func(int, *model.TaskResult) error {
			return describe(&client.APIError{StatusCode: 404, Method: "POST", Path: "/api/tasks", Message: "gone"})
		}
		b.f.pollErr = func(n int, _ pollRequest) error {
			if n == 1 {
				return errors.New("connection refused")
			}
			return nil
		}
		if err := b.r.Start("lost", echo); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("lost", "x", 1)...)
		waitFor(t, 5*time.Minute, "task span", func() bool { return len(spanNamed(t, exp.GetSpans(), "conductor.task")) == 1 })
		spans := exp.GetSpans()
		up := spanNamed(t, spans, "conductor.update")[0]
		if up.Status.Code != codes.Error || !strings.Contains(up.Status.Description, "gone") {
			t.Fatalf("update span %+v", up.Status)
		}
		var failedPoll bool
		for _, p := range spanNamed(t, spans, "conductor.poll") {
			failedPoll = failedPoll || (p.Status.Code == codes.Error && !p.Parent.IsValid() && strings.Contains(p.Status.Description, "connection refused"))
		}
		if !failedPoll {
			t.Fatal("no span for the failed poll")
		}
	})
}

func TestTracingOfTasksReceivedThroughUpdateV2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, exp := newSpanExporter(t)
		b := setup(t, WithTracerProvider(tp), WithUpdateV2(true))
		b.f.v2 = true
		b.f.push("", makeTasks("v2", "v", 6)...)
		if err := b.r.Start("v2", echo); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 6 })
		waitFor(t, 5*time.Minute, "spans", func() bool { return len(spanNamed(t, exp.GetSpans(), "conductor.task")) == 6 })
		spans := exp.GetSpans()
		via := map[string]int{}
		for _, s := range spanNamed(t, spans, "conductor.task") {
			via[attr(s, "conductor.task.received_via")]++
		}
		if via["update-v2"] == 0 || via["poll"]+via["update-v2"] != 6 {
			t.Fatalf("received via %v", via)
		}
		if n := len(spanNamed(t, spans, "conductor.execute")); n != 6 {
			t.Fatalf("%d execute spans", n)
		}
	})
}

func TestNoTracerMeansNoSpansAndHandlerCtxHasNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		var valid bool
		h := func(ctx context.Context, task *model.Task) (interface{}, error) {
			valid = trace.SpanContextFromContext(ctx).IsValid()
			return nil, nil
		}
		if err := b.r.Start("plain", h); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("plain", "n", 1)...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 1 })
		if valid || b.r.cfg.tracing != nil {
			t.Fatal("tracing is on without a tracer provider")
		}
	})
}

// On the dev server over HTTP: the trace context goes into the workflow's
// input, the workflow hands it to its tasks, and the spans of both tasks
// (run by two workers) join the caller's trace.
func TestTracingAcrossAWorkflowOnTheDevServer(t *testing.T) {
	tp, exp := newSpanExporter(t)
	e := newITEnv(t)
	wd := model.WorkflowDef{Name: "traced_flow", Version: 1, SchemaVersion: 2, Tasks: []model.WorkflowTask{
		{Name: "first", TaskReferenceName: "first", Type: "SIMPLE", InputParameters: map[string]interface{}{TraceparentKey: "${workflow.input.traceparent}"}},
		{Name: "second", TaskReferenceName: "second", Type: "SIMPLE", InputParameters: map[string]interface{}{TraceparentKey: "${workflow.input.traceparent}"}},
	}}
	if err := e.srv.RegisterWorkflowDef(wd); err != nil {
		t.Fatal(err)
	}
	r := e.runner(t, WithTracerProvider(tp))
	for _, tt := range []string{"first", "second"} {
		if err := r.Start(tt, echo, PollInterval(5*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, caller := tp.Tracer("caller").Start(context.Background(), "checkout")
	input := map[string]interface{}{"order": 1}
	InjectTraceContext(ctx, input)
	id, err := e.srv.StartWorkflow(model.StartWorkflowRequest{Name: "traced_flow", Version: 1, Input: input})
	caller.End()
	if err != nil {
		t.Fatal(err)
	}
	e.wait(t, 20*time.Second, []string{id})
	waitFor(t, 5*time.Second, "both task spans to end", func() bool { return len(spanNamed(t, exp.GetSpans(), "conductor.task")) >= 2 })
	tasks := spanNamed(t, exp.GetSpans(), "conductor.task")
	if len(tasks) != 2 {
		t.Fatalf("%d task spans", len(tasks))
	}
	taskIDs := map[string]bool{}
	for _, s := range tasks {
		if s.SpanContext.TraceID() != caller.SpanContext().TraceID() || s.Parent.SpanID() != caller.SpanContext().SpanID() {
			t.Fatalf("span %s is not in the caller's trace", s.Name)
		}
		if attr(s, "conductor.workflow.id") != id {
			t.Fatalf("span %s workflow id %q", s.Name, attr(s, "conductor.workflow.id"))
		}
		taskIDs[s.SpanContext.SpanID().String()] = true
	}
	// Each task's poll, execution and update hang under its task span.
	for _, kind := range []string{"conductor.poll", "conductor.execute", "conductor.update"} {
		n := 0
		for _, s := range spanNamed(t, exp.GetSpans(), kind) {
			if taskIDs[s.Parent.SpanID().String()] && s.SpanContext.TraceID() == caller.SpanContext().TraceID() {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d %s spans in the caller's trace under task spans, want 2", n, kind)
		}
	}
}
