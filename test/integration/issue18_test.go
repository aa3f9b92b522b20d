package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/taskdef"
	"github.com/baton-go/baton/sdk/worker"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

// Issue 18 on a real server: deployment-time configuration, tracing with
// middleware, execution logs and task definitions from typed handlers. They
// run against the dev server by default and against CONDUCTOR_SERVER_URL
// when it is set (test/conductor/run.sh).

// TestEnvironmentPausesASeedWorker: CONDUCTOR_WORKER_<TASK>_PAUSED=true keeps
// a worker started with the original SDK's StartWorker from polling until
// Resume.
func TestEnvironmentPausesASeedWorker(t *testing.T) {
	t.Parallel()
	task, control := uniq("envpaused"), uniq("envcontrol")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 0})
	controlWf := oneTaskWorkflow(t, model.TaskDef{Name: control, RetryCount: 0})
	r := newRunner(t, worker.WithEnviron([]string{"CONDUCTOR_WORKER_" + strings.ToUpper(task) + "_PAUSED=true"}))
	seed := func(tk *model.Task) (interface{}, error) { return map[string]interface{}{"ok": true}, nil }
	for _, tt := range []string{task, control} {
		if err := r.StartWorker(tt, seed, 1, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Version: 1})
	// Instead of a fixed wait: a worker of the same runner, started the same
	// way, runs a task scheduled after the paused worker's. A worker that
	// polled would have had its own task by then.
	waitWorkflow(t, startWorkflow(t, model.StartWorkflowRequest{Name: controlWf, Version: 1}), model.WorkflowCompleted)
	wf := getWorkflow(t, id)
	if len(wf.Tasks) != 1 || wf.Tasks[0].Status != model.TaskScheduled || wf.Tasks[0].PollCount != 0 {
		t.Fatalf("a worker paused by the environment took the task: %s", describeWorkflow(wf))
	}
	for _, st := range r.Workers() {
		if st.TaskType == task && (!st.Paused || st.ConfigSources["paused"] == "" || st.Polls != 0) {
			t.Fatalf("paused worker's status %+v, want paused by the environment and no poll", st)
		}
		if st.TaskType == control && st.Paused {
			t.Fatalf("the environment paused the other worker too: %+v", st)
		}
	}
	r.Resume(task)
	waitWorkflow(t, id, model.WorkflowCompleted)
}

// TestTracingMiddlewareAndLogsAcrossAWorkflow: two tasks of one workflow
// join the caller's trace through the workflow input, a runner middleware
// wraps both handlers inside the execution span, and the lines the
// middleware and the handlers log are what GetLogs returns.
func TestTracingMiddlewareAndLogsAcrossAWorkflow(t *testing.T) {
	t.Parallel()
	first, second := uniq("traced_a"), uniq("traced_b")
	registerTask(t, model.TaskDef{Name: first, RetryCount: 0})
	registerTask(t, model.TaskDef{Name: second, RetryCount: 0})
	wfName := first + "_wf"
	in := map[string]interface{}{worker.TraceparentKey: "${workflow.input.traceparent}", "tenant": "${workflow.input.tenant}"}
	registerWorkflow(t, model.WorkflowDef{Name: wfName, Version: 1, Tasks: []model.WorkflowTask{
		{Name: first, TaskReferenceName: "a", InputParameters: in},
		{Name: second, TaskReferenceName: "b", InputParameters: in},
	}})

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	type tenantKey struct{}
	tenant := func(next worker.HandlerFunc) worker.HandlerFunc {
		return func(ctx context.Context, tk *model.Task) (interface{}, error) {
			worker.Logf(ctx, "tenant %v", tk.InputData["tenant"])
			return next(context.WithValue(ctx, tenantKey{}, tk.InputData["tenant"]), tk)
		}
	}
	r := newRunner(t, worker.WithTracerProvider(tp), worker.WithMiddleware(tenant))
	h := func(ctx context.Context, tk *model.Task) (interface{}, error) {
		worker.Logf(ctx, "handled %s", tk.ReferenceTaskName)
		return map[string]interface{}{"tenant": ctx.Value(tenantKey{})}, nil
	}
	for _, tt := range []string{first, second} {
		if err := r.Start(tt, h, worker.PollInterval(50*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, caller := tp.Tracer("it").Start(context.Background(), "caller")
	input := map[string]interface{}{"tenant": "acme"}
	worker.InjectTraceContext(ctx, input)
	caller.End()
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Version: 1, Input: input})
	wf := waitWorkflow(t, id, model.WorkflowCompleted)

	var tasks []tracetest.SpanStub
	waitFor(t, 10*time.Second, "two task spans", func() (bool, string) {
		tasks = tasks[:0]
		for _, s := range exp.GetSpans() {
			if strings.HasPrefix(s.Name, "conductor.task ") {
				tasks = append(tasks, s)
			}
		}
		return len(tasks) == 2, ""
	})
	for _, s := range tasks {
		if s.SpanContext.TraceID() != caller.SpanContext().TraceID() || s.Parent.SpanID() != caller.SpanContext().SpanID() {
			t.Errorf("%s is not in the caller's trace", s.Name)
		}
	}
	for _, tk := range wf.Tasks {
		if tk.OutputData["tenant"] != "acme" {
			t.Errorf("task %s output %v: the middleware's value did not reach the handler", tk.ReferenceTaskName, tk.OutputData)
		}
		logs, err := env.api.Tasks().GetLogs(testCtx(t, 30*time.Second), tk.TaskId)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range logs {
			lines = append(lines, l.Log)
		}
		if len(lines) == 0 && env.external && !serverKeepsLogs(t, tk.TaskId) {
			// Conductor OSS keeps execution logs in its indexing backend;
			// a server without one (test/conductor/run.sh starts such a
			// server) answers every GetLogs with an empty list, for the
			// lines of a result and for POST /tasks/{id}/log alike.
			t.Logf("the server keeps no execution logs (no indexing backend); not checking %s's lines", tk.ReferenceTaskName)
			continue
		}
		if strings.Join(lines, "|") != "tenant acme|handled "+tk.ReferenceTaskName {
			t.Errorf("GetLogs(%s) = %q", tk.ReferenceTaskName, lines)
		}
	}
}

// serverKeepsLogs adds a line to the task's log through the log endpoint and
// tells whether GetLogs then returns anything.
func serverKeepsLogs(t *testing.T, taskID string) bool {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	if err := env.api.Tasks().AddLog(ctx, taskID, "probe"); err != nil {
		t.Fatalf("AddLog: %v", err)
	}
	logs, err := env.api.Tasks().GetLogs(ctx, taskID)
	if err != nil {
		t.Fatal(err)
	}
	return len(logs) > 0
}

type typedIn struct {
	Name string `json:"name" jsonschema:"required"`
	N    int    `json:"n,omitempty"`
}

type typedOut struct {
	Greeting string `json:"greeting"`
}

func typedGreet(_ context.Context, in typedIn) (typedOut, error) {
	return typedOut{Greeting: "hi " + in.Name}, nil
}

// TestTypedTaskDefOnTheServer: the definition of a typed handler is
// registered with its schemas, a second taskdef.Ensure writes nothing, a
// definition changed on the server is reported, and the worker runs tasks of
// it.
func TestTypedTaskDefOnTheServer(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 2*time.Minute)
	task := uniq("typeddef")
	md := executor.NewWorkflowExecutor(env.api)
	def, err := taskdef.Typed(task, typedGreet, taskdef.Retry(1, time.Second, ""), taskdef.Timeouts(time.Minute, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := taskdef.Ensure(ctx, env.api, def, taskdef.EnsureOwnerEmail(owner)); err != nil || got != taskdef.Created {
		t.Fatalf("first taskdef.Ensure: %v, %v", got, err)
	}
	onServer, err := md.GetTaskDefContext(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	if onServer.InputSchema == nil || onServer.OutputSchema == nil {
		t.Fatalf("the server did not keep the schemas: %+v", onServer)
	}
	props, _ := onServer.InputSchema.Data["properties"].(map[string]interface{})
	if _, ok := props["name"]; !ok || onServer.RetryCount != 1 || onServer.TimeoutSeconds != 60 {
		t.Fatalf("definition on the server: %+v", onServer)
	}
	if got, err := taskdef.Ensure(ctx, env.api, def, taskdef.EnsureOwnerEmail(owner)); err != nil || got != taskdef.Unchanged {
		t.Fatalf("second taskdef.Ensure: %v, %v", got, err)
	}
	onServer.RetryDelaySeconds = 30
	if err := md.UpdateTaskDefContext(ctx, *onServer); err != nil {
		t.Fatal(err)
	}
	if _, err := taskdef.Ensure(ctx, env.api, def, taskdef.EnsureOwnerEmail(owner)); !errors.Is(err, taskdef.ErrConflict) {
		t.Fatalf("changed on the server: %v, want ErrTaskDefConflict", err)
	}

	registerWorkflow(t, model.WorkflowDef{Name: task + "_wf", Version: 1, Tasks: []model.WorkflowTask{
		{Name: task, TaskReferenceName: "only", InputParameters: map[string]interface{}{"name": "${workflow.input.name}"}},
	}})
	r := newRunner(t)
	if err := r.Start(task, worker.Typed(typedGreet), worker.PollInterval(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	id := startWorkflow(t, model.StartWorkflowRequest{Name: task + "_wf", Version: 1, Input: map[string]interface{}{"name": "Ada"}})
	wf := waitWorkflow(t, id, model.WorkflowCompleted)
	if wf.Tasks[0].OutputData["greeting"] != "hi Ada" {
		t.Fatalf("output %v", wf.Tasks[0].OutputData)
	}
}
