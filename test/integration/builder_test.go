package integration

// Workflows made with sdk/workflow, registered on a real Conductor server
// and run to completion; the dev server runs SIMPLE tasks only, so these
// skip there (sdk/conductortest's TestNonSimpleTaskRefused checks that it
// says so).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/workflow"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

// store is the external server's store (CONDUCTOR_SERVER_STORE).
func (s *suite) store() string { return os.Getenv("CONDUCTOR_SERVER_STORE") }

// indexed says whether the server indexes workflows for search: 3.32 on
// SQLite does (test/conductor/run.sh turns it on); 3.21 as shipped and 3.32
// on Redis run without.
func (s *suite) indexed() bool {
	return s.external && s.version == conductortest.Version332 && s.store() == "sqlite"
}

func needRealServer(t *testing.T) {
	t.Helper()
	if !env.external {
		t.Skip("system task types run on a real Conductor server only (make test-conductor)")
	}
}

// register registers the builder's definition, owner e-mail filled in.
func register(t *testing.T, wf *workflow.Workflow) *model.WorkflowDef {
	t.Helper()
	def, err := wf.OwnerEmail(owner).Def()
	if err != nil {
		t.Fatalf("build %s: %v", wf.Name(), err)
	}
	if err := executor.NewWorkflowExecutor(env.api).RegisterWorkflowContext(testCtx(t, 30*time.Second), false, def); err != nil {
		t.Fatalf("register %s: %v", def.Name, err)
	}
	return def
}

// serve completes every task of taskType with out(task) until the test
// ends; the goroutine stops with the test.
func serve(t *testing.T, taskType string, out func(*model.Task) map[string]interface{}) {
	t.Helper()
	registerTask(t, model.TaskDef{Name: taskType, RetryCount: 0, TimeoutSeconds: 120, ResponseTimeoutSeconds: 60})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			tasks, err := env.api.Tasks().BatchPoll(ctx, taskType, client.PollOptions{Count: 5, Timeout: 500 * time.Millisecond, WorkerID: "it-builder"})
			if err != nil {
				continue
			}
			for i := range tasks {
				r := model.NewTaskResult(&tasks[i])
				r.Status = model.CompletedTask
				r.OutputData = out(&tasks[i])
				_ = env.api.Tasks().UpdateTask(ctx, r)
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// runToEnd starts name with input and waits (through StartAndWait) until it
// has finished; it fails the test unless it COMPLETED.
func runToEnd(t *testing.T, name string, input map[string]interface{}) *model.Workflow {
	t.Helper()
	wf, err := executor.NewWorkflowExecutor(env.api).ExecuteWorkflowContext(testCtx(t, waitLong), &model.StartWorkflowRequest{Name: name, Input: input}, "")
	if err != nil {
		if wf != nil {
			t.Fatalf("%s: %v; %s", name, err, describeWorkflow(wf))
		}
		t.Fatalf("%s: %v", name, err)
	}
	if wf.Status != model.WorkflowCompleted {
		t.Fatalf("%s ended %s, want COMPLETED; %s", name, wf.Status, describeWorkflow(wf))
	}
	return wf
}

func wantOutput(t *testing.T, wf *model.Workflow, key string, want interface{}) {
	t.Helper()
	got := fmt.Sprint(wf.Output[key])
	if got != fmt.Sprint(want) {
		t.Errorf("workflow output %s = %s, want %v (output %v)", key, got, want, wf.Output)
	}
}

// TestBuilderControlFlow: SET_VARIABLE, INLINE, JSON_JQ_TRANSFORM, SWITCH
// (value and JavaScript), FORK_JOIN with its JOIN, DO_WHILE and HTTP, as
// sdk/workflow writes them, run to completion and compute what they should.
func TestBuilderControlFlow(t *testing.T) {
	needRealServer(t)
	t.Parallel()
	worker := uniq("bld_simple")
	serve(t, worker, func(tk *model.Task) map[string]interface{} {
		return map[string]interface{}{"echo": tk.InputData["v"]}
	})
	double := workflow.Inline("double", "function f() { return $.n * 2; } f();").Input("n", "${workflow.input.n}")
	jq := workflow.JQ("jq", ".items | map(. + 1)").Input("items", "${workflow.input.items}")
	pick := workflow.Switch("pick", "${workflow.input.kind}").
		Case("a", workflow.Simple(worker, "case_a").Input("v", "went a")).
		Default(workflow.Terminate("bad_kind", model.WorkflowFailed, "unknown kind"))
	js := workflow.Switch("js", "$.n > 5 ? 'big' : 'small'").JavaScript().Input("n", double.OutputRef("result")).
		Case("big", workflow.SetVariable("mark_big").Input("size", "big")).
		Case("small", workflow.SetVariable("mark_small").Input("size", "small"))
	fork := workflow.Fork("fork",
		[]workflow.Task{workflow.Simple(worker, "left").Input("v", "L")},
		[]workflow.Task{workflow.Inline("right", "'R'"), workflow.Simple(worker, "right2").Input("v", "R2")},
	)
	loop := workflow.Loop("loop", 3, workflow.Inline("step", "$.i").Input("i", "${loop.output.iteration}"))
	health := workflow.HTTP("health", workflow.HTTPRequest{URI: env.url + "/metadata/workflow/names-and-versions"})
	name := uniq("bld_flow")
	register(t, workflow.New(name).Version(1).
		Add(workflow.SetVariable("vars").Input("greeting", "hi"),
			double, jq, pick, js, fork, loop, health).
		Output("double", double.OutputRef("result")).
		Output("jq", jq.OutputRef("result")).
		Output("a", "${case_a.output.echo}").
		Output("size", "${workflow.variables.size}").
		Output("greeting", "${workflow.variables.greeting}").
		Output("left", "${left.output.echo}").
		Output("right2", "${right2.output.echo}").
		Output("iterations", loop.OutputRef("iteration")).
		Output("status", health.OutputRef("response.statusCode")))

	wf := runToEnd(t, name, map[string]interface{}{"n": 4, "items": []int{1, 2}, "kind": "a"})
	wantOutput(t, wf, "double", 8)
	wantOutput(t, wf, "jq", []interface{}{2.0, 3.0})
	wantOutput(t, wf, "a", "went a")
	wantOutput(t, wf, "size", "big")
	wantOutput(t, wf, "greeting", "hi")
	wantOutput(t, wf, "left", "L")
	wantOutput(t, wf, "right2", "R2")
	wantOutput(t, wf, "iterations", 3)
	wantOutput(t, wf, "status", 200)
	if n := len(tasksByRef(wf, "step__3")); n != 1 {
		t.Errorf("loop ran step__3 %d times, want once (three iterations); %s", n, describeWorkflow(wf))
	}

	// The default case: TERMINATE ends the workflow FAILED with its reason.
	bad, err := executor.NewWorkflowExecutor(env.api).ExecuteWorkflowContext(testCtx(t, waitLong), &model.StartWorkflowRequest{Name: name,
		Input: map[string]interface{}{"n": 1, "items": []int{}, "kind": "zzz"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if bad.Status != model.WorkflowFailed || bad.ReasonForIncompletion != "unknown kind" {
		t.Errorf("default case: workflow %s, reason %q; want FAILED, %q", bad.Status, bad.ReasonForIncompletion, "unknown kind")
	}
}

// TestBuilderSubWorkflows: SUB_WORKFLOW by name and with an inline
// definition, and START_WORKFLOW.
func TestBuilderSubWorkflows(t *testing.T) {
	needRealServer(t)
	t.Parallel()
	child := uniq("bld_child")
	register(t, workflow.New(child).Version(1).
		Add(workflow.Inline("sum", "$.a + $.b").Input("a", "${workflow.input.a}").Input("b", "${workflow.input.b}")).
		Output("sum", "${sum.output.result}"))
	inline := workflow.New(uniq("bld_inline_child")).Version(1).OwnerEmail(owner).
		Add(workflow.Inline("upper", "$.s.toUpperCase()").Input("s", "${workflow.input.s}")).
		Output("upper", "${upper.output.result}")
	started := uniq("bld_started")
	register(t, workflow.New(started).Version(1).Add(workflow.Inline("noop", "true")))
	name := uniq("bld_parent")
	byName := workflow.SubWorkflow("by_name", child, 1).Input("a", 2).Input("b", 3)
	byDef := workflow.SubWorkflowOf("by_def", inline).Input("s", "abc")
	start := workflow.StartWorkflow("start", started, 0, map[string]interface{}{"x": 1}, "corr-"+name)
	register(t, workflow.New(name).Version(1).Add(byName, byDef, start).
		Output("sum", byName.OutputRef("sum")).
		Output("upper", byDef.OutputRef("upper")).
		Output("started", start.OutputRef("workflowId")))
	wf := runToEnd(t, name, nil)
	wantOutput(t, wf, "sum", 5)
	wantOutput(t, wf, "upper", "ABC")
	id, _ := wf.Output["started"].(string)
	if id == "" {
		t.Fatalf("START_WORKFLOW gave no workflow id; output %v", wf.Output)
	}
	if got := waitWorkflow(t, id, model.WorkflowCompleted); got.WorkflowName != started || got.CorrelationId != "corr-"+name {
		t.Errorf("started workflow is %s with correlation %q, want %s, %q", got.WorkflowName, got.CorrelationId, started, "corr-"+name)
	}
}

// TestBuilderDynamic: DYNAMIC picks its task type from the input,
// FORK_JOIN_DYNAMIC forks over a list a JSON_JQ_TRANSFORM task makes.
func TestBuilderDynamic(t *testing.T) {
	needRealServer(t)
	t.Parallel()
	worker := uniq("bld_dyn")
	serve(t, worker, func(tk *model.Task) map[string]interface{} {
		return map[string]interface{}{"got": tk.InputData["v"]}
	})
	// The branches come from a JQ task: on 3.21.14 an INLINE task's
	// JavaScript array reaches the fork as "[object Array]", which it
	// refuses; JQ gives JSON on both versions.
	prep := workflow.JQ("prep", `{tasks: [range(0; .n) as $i | {name: .worker, taskReferenceName: "branch_\($i)", type: "SIMPLE"}],
		inputs: ([range(0; .n) as $i | {key: "branch_\($i)", value: {v: $i}}] | from_entries)}`).
		Input("n", 3).Input("worker", worker)
	name := uniq("bld_dynamic")
	register(t, workflow.New(name).Version(1).Add(
		workflow.Dynamic("dyn", "${workflow.input.handler}").Input("v", "dynamic"),
		prep,
		workflow.DynamicFork("dfork", prep.OutputRef("result.tasks"), prep.OutputRef("result.inputs")),
	).Output("dyn", "${dyn.output.got}").Output("joined", "${dfork_join.output}"))
	wf := runToEnd(t, name, map[string]interface{}{"handler": worker})
	wantOutput(t, wf, "dyn", "dynamic")
	joined, _ := wf.Output["joined"].(map[string]interface{})
	for i := range 3 {
		ref := fmt.Sprintf("branch_%d", i)
		out, _ := joined[ref].(map[string]interface{})
		if fmt.Sprint(out["got"]) != fmt.Sprint(i) {
			t.Errorf("join output of %s = %v, want got=%d (join output %v)", ref, joined[ref], i, joined)
		}
	}
}

// TestBuilderWaitHumanEvent: WAIT and HUMAN are completed from outside by
// reference name, a timed WAIT passes by itself, EVENT publishes to the
// server's own queue.
func TestBuilderWaitHumanEvent(t *testing.T) {
	needRealServer(t)
	t.Parallel()
	name := uniq("bld_wait")
	register(t, workflow.New(name).Version(1).Add(
		workflow.Wait("approve"),
		workflow.Human("review"),
		workflow.WaitFor("pause", time.Second),
		workflow.ConductorEvent("notify", uniq("evt")).Input("what", "done"),
	).Output("approved", "${approve.output.ok}").Output("reviewer", "${review.output.by}"))
	id := startWorkflow(t, model.StartWorkflowRequest{Name: name})
	tc := env.api.Tasks()
	for _, step := range []struct {
		ref string
		out map[string]interface{}
	}{{"approve", map[string]interface{}{"ok": true}}, {"review", map[string]interface{}{"by": "ann"}}} {
		waitFor(t, waitLong, step.ref+" to be waiting", func() (bool, string) {
			wf := getWorkflow(t, id)
			tks := tasksByRef(wf, step.ref)
			return len(tks) == 1 && tks[0].Status == model.TaskInProgress, describeWorkflow(wf)
		})
		if _, err := tc.UpdateTaskByRefName(testCtx(t, 30*time.Second), id, step.ref, model.CompletedTask, step.out, ""); err != nil {
			t.Fatalf("complete %s: %v", step.ref, err)
		}
	}
	wf, err := executor.NewWorkflowExecutor(env.api).WaitForWorkflowContext(testCtx(t, waitLong), id, "")
	if err != nil || wf.Status != model.WorkflowCompleted {
		t.Fatalf("workflow: %v; %v", err, wf)
	}
	wantOutput(t, wf, "approved", true)
	wantOutput(t, wf, "reviewer", "ann")
	if ev := tasksByRef(wf, "notify"); len(ev) != 1 || ev[0].Status != model.TaskCompleted {
		t.Errorf("EVENT task: %s", describeWorkflow(wf))
	}
}

// waitingWorkflow registers and starts a workflow that waits at a WAIT task
// ("hold") and then runs an INLINE one.
func waitingWorkflow(t *testing.T, base, correlationID string) (name, id string) {
	t.Helper()
	name = uniq(base)
	register(t, workflow.New(name).Version(1).Add(workflow.Wait("hold"), workflow.Inline("after", "'done'")).
		Output("after", "${after.output.result}"))
	return name, startWorkflow(t, model.StartWorkflowRequest{Name: name, CorrelationId: correlationID})
}

// TestWorkflowOpsPauseResumeSkip: pause holds a workflow, resume lets it
// go on, skip passes over a task that was not scheduled yet.
func TestWorkflowOpsPauseResumeSkip(t *testing.T) {
	needRealServer(t)
	t.Parallel()
	wc := executor.NewWorkflowExecutor(env.api)
	ctx := testCtx(t, 2*waitLong)
	_, id := waitingWorkflow(t, "ops_pause", "")
	if err := wc.PauseContext(ctx, id); err != nil {
		t.Fatal("pause:", err)
	}
	waitWorkflow(t, id, model.WorkflowPaused)
	if err := wc.ResumeContext(ctx, id); err != nil {
		t.Fatal("resume:", err)
	}
	waitWorkflow(t, id, model.WorkflowRunning)
	// Only a task not yet scheduled can be skipped (the server refuses one
	// that is, the waiting "hold" included): skip the one after it.
	if err := wc.SkipTasksFromWorkflowContext(ctx, id, "after"); err != nil {
		t.Fatal("skip:", err)
	}
	if _, err := env.api.Tasks().UpdateTaskByRefName(ctx, id, "hold", model.CompletedTask, nil, ""); err != nil {
		t.Fatal("complete hold:", err)
	}
	wf := waitWorkflow(t, id, model.WorkflowCompleted)
	if after := tasksByRef(wf, "after"); len(after) != 1 || after[0].Status != model.TaskSkipped {
		t.Errorf("after skip: %s", describeWorkflow(wf))
	}
	wantOutput(t, wf, "after", "<nil>")
	if err := wc.PauseContext(ctx, id); !errors.Is(err, client.ErrConflict) {
		t.Errorf("pausing a completed workflow: %v, want ErrConflict", err)
	}
}

// TestWorkflowOpsRestartRetryRerun: a terminated workflow restarts, a
// failed one retries its failed task, a completed one reruns with new
// input.
func TestWorkflowOpsRestartRetryRerun(t *testing.T) {
	needRealServer(t)
	t.Parallel()
	wc := executor.NewWorkflowExecutor(env.api)
	ctx := testCtx(t, 3*waitLong)

	_, id := waitingWorkflow(t, "ops_restart", "")
	if err := wc.TerminateContext(ctx, id, "to restart"); err != nil {
		t.Fatal(err)
	}
	waitWorkflow(t, id, model.WorkflowTerminated)
	if err := wc.RestartContext(ctx, id, false); err != nil {
		t.Fatal("restart:", err)
	}
	waitWorkflow(t, id, model.WorkflowRunning)
	if err := wc.RestartContext(ctx, id, false); !errors.Is(err, client.ErrConflict) {
		t.Errorf("restarting a running workflow: %v, want ErrConflict", err)
	}

	// Retry: the worker fails the task once, then the retried task passes.
	task := uniq("ops_retry")
	registerTask(t, model.TaskDef{Name: task, RetryCount: 0, TimeoutSeconds: 120, ResponseTimeoutSeconds: 60})
	name := uniq("ops_retry_wf")
	register(t, workflow.New(name).Version(1).Add(workflow.Simple(task, "job").Input("n", "${workflow.input.n}")).
		Output("n", "${job.output.n}"))
	rid := startWorkflow(t, model.StartWorkflowRequest{Name: name, Input: map[string]interface{}{"n": 1}})
	update(t, result(pollTask(t, task, "", "it-ops"), model.FailedTask, nil))
	waitWorkflow(t, rid, model.WorkflowFailed)
	if err := wc.RetryContext(ctx, rid, false); err != nil {
		t.Fatal("retry:", err)
	}
	tk := pollTask(t, task, "", "it-ops")
	update(t, result(tk, model.CompletedTask, map[string]interface{}{"n": tk.InputData["n"]}))
	wf := waitWorkflow(t, rid, model.WorkflowCompleted)
	if jobs := tasksByRef(wf, "job"); len(jobs) != 2 {
		t.Errorf("after retry: %s; want the failed job and its retry", describeWorkflow(wf))
	}

	// Rerun from the start with new input.
	got, err := wc.ReRunContext(ctx, rid, model.RerunWorkflowRequest{WorkflowInput: map[string]interface{}{"n": 7}})
	if err != nil || got != rid {
		t.Fatalf("rerun: id %q, %v; want %s", got, err, rid)
	}
	tk = pollTask(t, task, "", "it-ops")
	if number(t, tk.InputData["n"], "rerun input") != 7 {
		t.Fatalf("rerun task input %v, want n=7", tk.InputData)
	}
	update(t, result(tk, model.CompletedTask, map[string]interface{}{"n": tk.InputData["n"]}))
	wantOutput(t, waitWorkflow(t, rid, model.WorkflowCompleted), "n", 7)
}

// TestWorkflowOpsLookups: correlation-id look-ups, running ids, batch
// starts and search.
func TestWorkflowOpsLookups(t *testing.T) {
	needRealServer(t)
	t.Parallel()
	wc := executor.NewWorkflowExecutor(env.api)
	ctx := testCtx(t, 2*waitLong)
	corr := uniq("corr")
	name, first := waitingWorkflow(t, "ops_lookup", corr)
	results := wc.StartWorkflowsContext(ctx,
		&model.StartWorkflowRequest{Name: name, CorrelationId: corr},
		&model.StartWorkflowRequest{Name: uniq("no_such_workflow")},
		&model.StartWorkflowRequest{Name: name, CorrelationId: corr + "-other"},
	)
	if results[0].Err != nil || results[2].Err != nil || !errors.Is(results[1].Err, client.ErrNotFound) {
		t.Fatalf("StartMany: %+v; want starts 0 and 2 to succeed and 1 to be not found", results)
	}
	// Correlation-id look-ups are answered from the index, like search: a
	// server without indexing (3.21 as shipped, 3.32 on Redis) finds none.
	many, err := wc.GetByCorrelationIdsContext(ctx, name, true, false, corr, corr+"-other", "nothing")
	if err != nil {
		t.Fatal(err)
	}
	if env.indexed() {
		if ids := workflowIDs(many[corr]); len(ids) != 2 || !ids[first] || !ids[results[0].WorkflowID] {
			t.Errorf("GetByCorrelationIds(%s) = %v, want %s and %s", corr, ids, first, results[0].WorkflowID)
		}
		if len(many[corr+"-other"]) != 1 || len(many["nothing"]) != 0 {
			t.Errorf("GetByCorrelationIds: %d, %d workflows for the other ids; want 1, 0", len(many[corr+"-other"]), len(many["nothing"]))
		}
	} else if len(many[corr]) != 0 {
		t.Errorf("without indexing the look-up found %d workflows; the server now answers it without the index, update the docs and this test", len(many[corr]))
	}
	running, err := wc.GetRunningWorkflowsContext(ctx, name, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 3 {
		t.Errorf("Running(%s) = %v, want the 3 started", name, running)
	}
	res, err := wc.SearchWorkflowsContext(ctx, 0, 10, fmt.Sprintf("workflowType IN (%s)", name), "", "")
	if err != nil {
		t.Fatal("search:", err)
	}
	t.Logf("search on Conductor %s (%s): %d hits", env.version, env.store(), res.TotalHits)
	if env.indexed() {
		waitFor(t, waitLong, "the search to find the 3 workflows", func() (bool, string) {
			res, err = wc.SearchWorkflowsContext(ctx, 0, 10, fmt.Sprintf("workflowType IN (%s)", name), "", "")
			return err == nil && res.TotalHits == 3, fmt.Sprintf("%v, %+v", err, res)
		})
	}
	for _, id := range running {
		_ = wc.TerminateContext(ctx, id, "test over")
	}
}

func workflowIDs(wfs []model.Workflow) map[string]bool {
	out := map[string]bool{}
	for _, w := range wfs {
		out[w.WorkflowId] = true
	}
	return out
}

// TestWorkflowOpsExecute: the server's synchronous execute endpoint answers
// with the finished workflow on 3.32; on 3.21.14, which predates it, the
// client says the server lacks it and nothing is started.
func TestWorkflowOpsExecute(t *testing.T) {
	needRealServer(t)
	t.Parallel()
	name := uniq("ops_exec")
	register(t, workflow.New(name).Version(1).Add(workflow.Inline("calc", "$.x * 3").Input("x", "${workflow.input.x}")).
		Output("y", "${calc.output.result}"))
	wc := executor.NewWorkflowExecutor(env.api)
	ctx := testCtx(t, waitLong)
	res, err := wc.ExecuteWorkflowOnServerContext(ctx, &model.StartWorkflowRequest{Name: name, Version: 1, Input: map[string]interface{}{"x": 5}}, executor.ExecuteOptions{WaitFor: 20 * time.Second})
	if env.version == conductortest.Version321 {
		if !errors.Is(err, client.ErrNotSupported) {
			t.Fatalf("Execute on 3.21: %v, %+v; want ErrNotSupported", err, res)
		}
		running, err := wc.GetRunningWorkflowsContext(ctx, name, 1)
		if err != nil || len(running) != 0 {
			t.Fatalf("after the refused Execute: running %v, %v; want none", running, err)
		}
		return
	}
	if err != nil {
		t.Fatal("Execute:", err)
	}
	id := res.WorkflowId
	if id == "" {
		id = res.TargetWorkflowId
	}
	wf := getWorkflow(t, id)
	if wf.Status != model.WorkflowCompleted || fmt.Sprint(wf.Output["y"]) != "15" {
		t.Errorf("Execute answered %+v; the workflow is %s with output %v, want COMPLETED with y=15", res, wf.Status, wf.Output)
	}
	if fmt.Sprint(res.Output["y"]) != "15" {
		t.Errorf("Execute's answer has output %v, want y=15", res.Output)
	}
}

// TestBuilderKafkaPublish: both servers know KAFKA_PUBLISH (their jars
// carry the Kafka module): the task is scheduled and run, and with no
// broker listening it fails with the producer's error rather than as an
// unknown task type.
func TestBuilderKafkaPublish(t *testing.T) {
	needRealServer(t)
	t.Parallel()
	name := uniq("bld_kafka")
	register(t, workflow.New(name).Version(1).Add(
		workflow.KafkaPublish("publish", workflow.KafkaRequest{BootStrapServers: "127.0.0.1:1", Topic: "baton-test", Key: "k", Value: "v",
			RequestTimeoutMs: 1000, MaxBlockMs: 1000}),
	))
	wf, err := executor.NewWorkflowExecutor(env.api).ExecuteWorkflowContext(testCtx(t, waitLong), &model.StartWorkflowRequest{Name: name}, "")
	if err != nil {
		t.Fatal(err)
	}
	pub := tasksByRef(wf, "publish")
	t.Logf("KAFKA_PUBLISH without a broker on %s: workflow %s, %s", env.version, wf.Status, describeWorkflow(wf))
	if wf.Status != model.WorkflowFailed || len(pub) == 0 || pub[0].TaskType != workflow.TypeKafkaPublish || pub[0].Status != model.TaskFailed {
		t.Fatalf("want the KAFKA_PUBLISH task run and FAILED; %s", describeWorkflow(wf))
	}
}
