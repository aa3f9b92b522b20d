package integration

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// TestTaskLifecycle walks one task through poll, get, complete and a
// duplicate update, the way a worker sees it.
func TestTaskLifecycle(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 2*time.Minute)
	tc := env.api.Tasks()
	task := uniq("life")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task})

	pollNone(t, task, "")
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"n": 7}})

	tk := pollTask(t, task, "", "it-worker-1")
	if tk.WorkflowInstanceId != id || tk.Status != model.TaskInProgress || tk.PollCount != 1 || tk.WorkerId != "it-worker-1" ||
		tk.ReferenceTaskName != "only" || tk.TaskType != task || tk.StartTime == 0 {
		t.Fatalf("polled task = wf %s status %s pollCount %d worker %q ref %s type %s start %d",
			tk.WorkflowInstanceId, tk.Status, tk.PollCount, tk.WorkerId, tk.ReferenceTaskName, tk.TaskType, tk.StartTime)
	}
	if got := number(t, tk.InputData["n"], "input n"); got != 7 {
		t.Fatalf("input n = %d, want 7", got)
	}
	// Once handed out, the task is in no queue.
	pollNone(t, task, "")

	same := getTask(t, tk.TaskId)
	if same.Status != model.TaskInProgress || same.WorkerId != "it-worker-1" {
		t.Fatalf("GetTask = %s by %q, want IN_PROGRESS by it-worker-1", same.Status, same.WorkerId)
	}

	r := result(tk, model.CompletedTask, map[string]interface{}{"answer": 42})
	r.WorkerId = "it-worker-1"
	r.Log("first line")
	update(t, r)
	wf := waitWorkflow(t, id, model.WorkflowCompleted)
	if got := number(t, wf.Output["answer"], "workflow output answer"); got != 42 {
		t.Fatalf("workflow output = %v, want the task's output (no outputParameters)", wf.Output)
	}
	done := getTask(t, tk.TaskId)
	if done.Status != model.TaskCompleted || done.EndTime == 0 || number(t, done.OutputData["answer"], "task output") != 42 {
		t.Fatalf("completed task = %s end %d output %v", done.Status, done.EndTime, done.OutputData)
	}

	// A duplicate (or late) update of a finished task is accepted and ignored.
	late := result(tk, model.FailedTask, map[string]interface{}{"answer": -1})
	late.ReasonForIncompletion = "late duplicate"
	update(t, late)
	if again := getTask(t, tk.TaskId); again.Status != model.TaskCompleted || number(t, again.OutputData["answer"], "task output") != 42 {
		t.Fatalf("after a late FAILED update: %s %v, want COMPLETED with the first output", again.Status, again.OutputData)
	}
	if wf := getWorkflow(t, id); wf.Status != model.WorkflowCompleted {
		t.Fatalf("workflow after a late update is %s", wf.Status)
	}

	if logs, err := tc.GetLogs(ctx, tk.TaskId); err != nil || logs == nil {
		t.Fatalf("GetLogs = %v, %v; want a (possibly empty) list", logs, err)
	}

	err := tc.UpdateTask(ctx, &model.TaskResult{TaskId: "00000000-0000-4000-8000-" + env.runID + "0002", WorkflowInstanceId: id, Status: model.CompletedTask, OutputData: map[string]interface{}{}})
	wantErrIs(t, err, client.ErrNotFound, "update of an unknown task")
	err = tc.UpdateTask(ctx, &model.TaskResult{TaskId: tk.TaskId, WorkflowInstanceId: "00000000-0000-4000-8000-" + env.runID + "0003", Status: model.CompletedTask, OutputData: map[string]interface{}{}})
	wantErrIs(t, err, client.ErrNotFound, "update naming an unknown workflow")
	_, err = tc.GetTask(ctx, "00000000-0000-4000-8000-"+env.runID+"0004")
	wantErrIs(t, err, client.ErrNotFound, "GetTask of an unknown task")
}

// TestInProgressCallback: an IN_PROGRESS result with callbackAfterSeconds
// puts the task back on its queue after that delay, keeping its output.
func TestInProgressCallback(t *testing.T) {
	t.Parallel()
	task := uniq("callback")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task})
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName})

	tk := pollTask(t, task, "", "it-cb")
	r := result(tk, model.InProgressTask, map[string]interface{}{"step": 1})
	r.CallbackAfterSeconds = 1
	update(t, r)

	waiting := getTask(t, tk.TaskId)
	if waiting.Status != model.TaskScheduled || waiting.CallbackAfterSeconds != 1 {
		t.Fatalf("after IN_PROGRESS+callback: status %s callbackAfterSeconds %d, want SCHEDULED and 1", waiting.Status, waiting.CallbackAfterSeconds)
	}

	back := pollTask(t, task, "", "it-cb-2")
	if back.TaskId != tk.TaskId || back.PollCount != 2 || back.Status != model.TaskInProgress || back.WorkerId != "it-cb-2" {
		t.Fatalf("second poll = task %s pollCount %d status %s worker %q, want the same task %s, pollCount 2, IN_PROGRESS, it-cb-2",
			back.TaskId, back.PollCount, back.Status, back.WorkerId, tk.TaskId)
	}
	if number(t, back.OutputData["step"], "output kept across the callback") != 1 {
		t.Fatalf("output after the callback = %v, want {step:1}", back.OutputData)
	}
	if back.StartTime != tk.StartTime {
		t.Errorf("startTime changed from %d to %d; the first poll sets it", tk.StartTime, back.StartTime)
	}

	update(t, result(back, model.CompletedTask, map[string]interface{}{"step": 2}))
	wf := waitWorkflow(t, id, model.WorkflowCompleted)
	if len(wf.Tasks) != 1 {
		t.Fatalf("workflow has %d tasks, want 1 (a callback is not a retry)", len(wf.Tasks))
	}
}

// TestRetryPerDefinition: a FAILED task is retried as its definition says,
// with a new task id each time, until it succeeds.
func TestRetryPerDefinition(t *testing.T) {
	t.Parallel()
	task := uniq("retry")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 2, RetryLogic: model.RetryFixed, RetryDelaySeconds: 1})
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName})

	var ids []string
	for attempt := 0; attempt < 3; attempt++ {
		tk := pollTask(t, task, "", "it-retry")
		if tk.RetryCount != attempt {
			t.Fatalf("attempt %d: task retryCount %d", attempt, tk.RetryCount)
		}
		if attempt > 0 && tk.RetriedTaskId != ids[attempt-1] {
			t.Fatalf("attempt %d: retriedTaskId %q, want the previous attempt %s", attempt, tk.RetriedTaskId, ids[attempt-1])
		}
		ids = append(ids, tk.TaskId)
		if attempt < 2 {
			r := result(tk, model.FailedTask, nil)
			r.ReasonForIncompletion = "transient failure"
			update(t, r)
			continue
		}
		update(t, result(tk, model.CompletedTask, map[string]interface{}{"attempts": attempt + 1}))
	}
	wf := waitWorkflow(t, id, model.WorkflowCompleted)
	got := tasksByRef(wf, "only")
	if len(got) != 3 {
		t.Fatalf("workflow has %d attempts, want 3: %s", len(got), describeWorkflow(wf))
	}
	for i, tk := range got {
		wantStatus := model.TaskFailed
		if i == 2 {
			wantStatus = model.TaskCompleted
		}
		if tk.TaskId != ids[i] || tk.Status != wantStatus || tk.Retried != (i < 2) {
			t.Fatalf("attempt %d = %s %s retried=%v, want %s %s retried=%v", i, tk.TaskId, tk.Status, tk.Retried, ids[i], wantStatus, i < 2)
		}
	}
	if got[0].ReasonForIncompletion != "transient failure" {
		t.Errorf("first attempt reason %q", got[0].ReasonForIncompletion)
	}
}

// TestRetriesExhausted: with no retry left the workflow fails and says which
// task failed.
func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	task := uniq("exhaust")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 1, RetryLogic: model.RetryExponentialBackoff, RetryDelaySeconds: 1})
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName})
	for attempt := 0; attempt < 2; attempt++ {
		tk := pollTask(t, task, "", "it-exhaust")
		r := result(tk, model.FailedTask, map[string]interface{}{"attempt": attempt})
		r.ReasonForIncompletion = "still broken"
		update(t, r)
	}
	wf := waitWorkflow(t, id, model.WorkflowFailed)
	if len(wf.Tasks) != 2 || !reflect.DeepEqual(wf.FailedReferenceTaskNames, []string{"only"}) {
		t.Fatalf("failed workflow: %s, failedReferenceTaskNames %v", describeWorkflow(wf), wf.FailedReferenceTaskNames)
	}
	if !strings.Contains(wf.ReasonForIncompletion, "still broken") {
		t.Errorf("workflow reason %q does not carry the task's reason", wf.ReasonForIncompletion)
	}
	pollNone(t, task, "")
}

// TestTerminalErrorNotRetried: FAILED_WITH_TERMINAL_ERROR fails the workflow
// at once even though the definition allows retries.
func TestTerminalErrorNotRetried(t *testing.T) {
	t.Parallel()
	task := uniq("terminal")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 3, RetryDelaySeconds: 0})
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName})
	tk := pollTask(t, task, "", "it-terminal")
	r := result(tk, model.FailedWithTerminalErrorTask, map[string]interface{}{"code": "E42"})
	r.ReasonForIncompletion = "cannot ever work"
	update(t, r)

	wf := waitWorkflow(t, id, model.WorkflowFailed)
	if len(wf.Tasks) != 1 || wf.Tasks[0].Status != model.TaskFailedWithTerminalError {
		t.Fatalf("workflow: %s, want one FAILED_WITH_TERMINAL_ERROR task and no retry", describeWorkflow(wf))
	}
	if !strings.Contains(wf.ReasonForIncompletion, "cannot ever work") {
		t.Errorf("workflow reason %q does not carry the task's reason", wf.ReasonForIncompletion)
	}
	if wf.Output["code"] != "E42" {
		t.Errorf("workflow output %v, want the failed task's output", wf.Output)
	}
	pollNone(t, task, "")
}

// TestUpdateByRefName completes tasks by workflow id and reference name, as
// external systems do, without polling them.
func TestUpdateByRefName(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, time.Minute)
	tc := env.api.Tasks()
	task := uniq("byref")
	registerTask(t, model.TaskDef{Name: task})
	wfName := task + "_wf"
	registerWorkflow(t, model.WorkflowDef{
		Name: wfName,
		Tasks: []model.WorkflowTask{
			{Name: task, TaskReferenceName: "first"},
			{Name: task, TaskReferenceName: "second", InputParameters: map[string]interface{}{"fromFirst": "${first.output.v}"}},
		},
		OutputParameters: map[string]interface{}{"a": "${first.output}", "b": "${second.output.v}"},
	})
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName})

	firstID, err := tc.UpdateTaskByRefName(ctx, id, "first", model.InProgressTask, map[string]interface{}{"k": 1}, "it-ref")
	if err != nil {
		t.Fatalf("IN_PROGRESS by ref name: %v", err)
	}
	tk := getTask(t, firstID)
	if tk.ReferenceTaskName != "first" || tk.Status != model.TaskScheduled || tk.WorkerId != "it-ref" || number(t, tk.OutputData["k"], "output k") != 1 {
		t.Fatalf("after IN_PROGRESS by ref: ref %s status %s worker %q output %v", tk.ReferenceTaskName, tk.Status, tk.WorkerId, tk.OutputData)
	}

	again, err := tc.UpdateTaskByRefName(ctx, id, "first", model.CompletedTask, map[string]interface{}{"v": "A"}, "")
	if err != nil {
		t.Fatalf("COMPLETED by ref name: %v", err)
	}
	if again != firstID {
		t.Fatalf("second update by ref hit task %s, want %s", again, firstID)
	}
	tk = getTask(t, firstID)
	if tk.Status != model.TaskCompleted || number(t, tk.OutputData["k"], "merged output k") != 1 || tk.OutputData["v"] != "A" {
		t.Fatalf("after COMPLETED by ref: %s output %v, want COMPLETED with {k:1, v:A} (merged)", tk.Status, tk.OutputData)
	}

	_, err = tc.UpdateTaskByRefName(ctx, id, "first", model.CompletedTask, map[string]interface{}{}, "")
	wantErrIs(t, err, client.ErrNotFound, "update by ref of a task that already ended")
	_, err = tc.UpdateTaskByRefName(ctx, id, "nosuchref", model.CompletedTask, map[string]interface{}{}, "")
	wantErrIs(t, err, client.ErrNotFound, "update by an unknown ref name")
	_, err = tc.UpdateTaskByRefNameSync(ctx, id, "nosuchref", model.CompletedTask, map[string]interface{}{}, "")
	wantErrIs(t, err, client.ErrNotFound, "sync update by an unknown ref name")

	wf := getWorkflow(t, id)
	second := tasksByRef(wf, "second")
	if len(second) != 1 || second[0].InputData["fromFirst"] != "A" {
		t.Fatalf("second task: %+v, want one with input fromFirst=A", second)
	}
	wf, err = tc.UpdateTaskByRefNameSync(ctx, id, "second", model.CompletedTask, map[string]interface{}{"v": "B"}, "it-ref-sync")
	if err != nil {
		t.Fatalf("sync update by ref: %v", err)
	}
	if wf.Status != model.WorkflowCompleted || wf.Output["b"] != "B" {
		t.Fatalf("sync answer: %s output %v, want the COMPLETED workflow with output b=B", describeWorkflow(wf), wf.Output)
	}
	if a, ok := wf.Output["a"].(map[string]interface{}); !ok || a["v"] != "A" {
		t.Fatalf("output a = %v, want first's whole output", wf.Output["a"])
	}
}

// TestDomainRouting: a task routed to a domain is only handed to pollers of
// that domain.
func TestDomainRouting(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, time.Minute)
	task := uniq("domain")
	domain := "blue" + env.runID
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task})
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName, TaskToDomain: map[string]string{task: domain}})

	wf := getWorkflow(t, id)
	if len(wf.Tasks) != 1 || wf.Tasks[0].Domain != domain {
		t.Fatalf("scheduled task domain = %+v, want %q", wf.Tasks, domain)
	}
	pollNone(t, task, "")
	pollNone(t, task, "green"+env.runID)

	tk := pollTask(t, task, domain, "it-domain")
	if tk.WorkflowInstanceId != id || tk.Domain != domain {
		t.Fatalf("domain poll = task of %s in domain %q, want %s in %q", tk.WorkflowInstanceId, tk.Domain, id, domain)
	}
	update(t, result(tk, model.CompletedTask, map[string]interface{}{"where": domain}))
	waitWorkflow(t, id, model.WorkflowCompleted)

	pd, err := env.api.Tasks().PollData(ctx, task)
	if err != nil {
		t.Fatalf("PollData: %v", err)
	}
	seen := map[string]string{}
	for _, p := range pd {
		if p.QueueName != task {
			t.Errorf("poll data queueName %q, want %q", p.QueueName, task)
		}
		seen[p.Domain] = p.WorkerId
	}
	if seen[domain] != "it-domain" {
		t.Fatalf("poll data %+v has no entry for domain %q by it-domain", pd, domain)
	}
	if _, ok := seen[""]; !ok {
		t.Fatalf("poll data %+v has no entry for the default queue, which was polled too", pd)
	}
}

// TestExpressionsAndOutput checks ${...} evaluation in task inputs and in the
// workflow output.
func TestExpressionsAndOutput(t *testing.T) {
	t.Parallel()
	task := uniq("expr")
	registerTask(t, model.TaskDef{Name: task})
	wfName := task + "_wf"
	registerWorkflow(t, model.WorkflowDef{
		Name: wfName,
		Tasks: []model.WorkflowTask{{Name: task, TaskReferenceName: "calc", InputParameters: map[string]interface{}{
			"num":     "${workflow.input.num}",
			"obj":     "${workflow.input.obj}",
			"text":    "n=${workflow.input.num}!",
			"missing": "${workflow.input.nothing}",
			"literal": 5,
			"escaped": "$${workflow.input.num}",
			"nested":  map[string]interface{}{"list": []interface{}{"${workflow.input.num}", "x"}},
		}}},
		OutputParameters: map[string]interface{}{
			"sum":        "${calc.output.sum}",
			"echo":       "${workflow.input.obj.k}",
			"workflowId": "${workflow.workflowId}",
		},
	})
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"num": 7, "obj": map[string]interface{}{"k": []interface{}{1, 2}}}})
	tk := pollTask(t, task, "", "it-expr")

	in := tk.InputData
	if number(t, in["num"], "num") != 7 {
		t.Errorf("num = %v, want the number 7 (a whole-string expression keeps its type)", in["num"])
	}
	if !reflect.DeepEqual(in["obj"], map[string]interface{}{"k": []interface{}{1.0, 2.0}}) {
		t.Errorf("obj = %#v, want the input object", in["obj"])
	}
	if in["text"] != "n=7!" {
		t.Errorf("text = %#v, want \"n=7!\"", in["text"])
	}
	if v, ok := in["missing"]; !ok || v != nil {
		t.Errorf("missing = %#v (present %v), want the key present with null", v, ok)
	}
	if number(t, in["literal"], "literal") != 5 {
		t.Errorf("literal = %v", in["literal"])
	}
	if in["escaped"] != "${workflow.input.num}" {
		t.Errorf("escaped = %#v, want the literal text ${workflow.input.num}", in["escaped"])
	}
	if !reflect.DeepEqual(in["nested"], map[string]interface{}{"list": []interface{}{7.0, "x"}}) {
		t.Errorf("nested = %#v, want expressions evaluated inside maps and lists", in["nested"])
	}

	update(t, result(tk, model.CompletedTask, map[string]interface{}{"sum": 12}))
	wf := waitWorkflow(t, id, model.WorkflowCompleted)
	want := map[string]interface{}{"sum": 12.0, "echo": []interface{}{1.0, 2.0}, "workflowId": id}
	if !reflect.DeepEqual(wf.Output, want) {
		t.Fatalf("workflow output = %#v, want %#v", wf.Output, want)
	}
}

// TestBatchPollCap: a batch poll hands out at most 100 tasks whatever count
// asks for, on every server: 3.21 caps it, 3.32 does not and the client asks
// for at most maxPollCount (client.PollOptions.Count). 3.21 and 3.32 with SQLite hand out the
// full 100 when 105 are queued; 3.32 with Redis stores was seen handing out
// 64 at a time, so there the test only drains the queue.
func TestBatchPollCap(t *testing.T) {
	const maxPollCount = 100
	t.Parallel()
	task := uniq("cap")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task})
	const n = 105
	ids := startMany(t, wfName, n)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	lastCheck := time.Now()
	waitFor(t, waitLong, "105 queued tasks", func() (bool, string) {
		sizes, err := env.api.Tasks().QueueSizes(testCtx(t, 30*time.Second), task)
		if err != nil {
			t.Fatalf("QueueSizes: %v", err)
		}
		if sizes[task] < n && time.Since(lastCheck) > 5*time.Second {
			// 3.32 with SQLite may terminate a workflow it has just
			// started when its store is busy: its task never exists.
			lastCheck = time.Now()
			restartBusyTerminated(t, wfName, ids, all)
		}
		return sizes[task] == n, fmt.Sprintf("queue sizes %v", sizes)
	})
	ctx := testCtx(t, time.Minute)
	exact := env.version == conductortest.Version321 || (env.version == conductortest.Version332 && os.Getenv("CONDUCTOR_SERVER_STORE") != "redis")
	first, err := env.api.Tasks().BatchPoll(ctx, task, client.PollOptions{Count: 150, WorkerID: "it-cap"})
	if err != nil {
		t.Fatalf("BatchPoll count 150: %v", err)
	}
	if len(first) > maxPollCount || (exact && len(first) != maxPollCount) || len(first) == 0 {
		t.Fatalf("BatchPoll count 150 with 105 queued returned %d tasks, want 100 (maxPollCount)", len(first))
	}
	var rest []model.Task
	for polls := 0; len(first)+len(rest) < n && polls < 10; polls++ {
		more, err := env.api.Tasks().BatchPoll(ctx, task, client.PollOptions{Count: 150, WorkerID: "it-cap"})
		if err != nil {
			t.Fatalf("BatchPoll: %v", err)
		}
		if len(more) > maxPollCount {
			t.Fatalf("BatchPoll returned %d tasks, more than maxPollCount", len(more))
		}
		rest = append(rest, more...)
	}
	if len(first)+len(rest) != n || (exact && len(rest) != 5) {
		t.Fatalf("polls after the first returned %d tasks, want the %d left", len(rest), n-len(first))
	}
	seen := map[string]bool{}
	for _, tk := range append(first, rest...) {
		if seen[tk.TaskId] {
			t.Fatalf("task %s handed out twice", tk.TaskId)
		}
		seen[tk.TaskId] = true
	}
	// Leave nothing running behind on a server that keeps state.
	for _, tk := range append(first, rest...) {
		update(t, result(&tk, model.CompletedTask, nil))
	}
}

// TestResponseTimeoutRetries: a task whose worker vanished after polling is
// timed out after responseTimeoutSeconds and retried. The real 3.21 server
// checks this from its sweeper, up to about 30 s late.
func TestResponseTimeoutRetries(t *testing.T) {
	t.Parallel()
	task := uniq("resptimeout")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 1, RetryDelaySeconds: 0, ResponseTimeoutSeconds: 2})
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName})
	lost := pollTask(t, task, "", "it-vanished")

	retry := pollTask(t, task, "", "it-rescuer")
	if retry.TaskId == lost.TaskId || retry.RetriedTaskId != lost.TaskId || retry.RetryCount != 1 {
		t.Fatalf("after the response timeout got task %s (retriedTaskId %q, retryCount %d), want a retry of %s",
			retry.TaskId, retry.RetriedTaskId, retry.RetryCount, lost.TaskId)
	}
	// The server queues the retry before it writes TIMED_OUT on the old task
	// (WorkflowExecutor.decide schedules, then updates), so a poll held at
	// that moment can get the retry while the old task still reads
	// IN_PROGRESS (seen on 3.32.3 with SQLite): wait for the write.
	waitFor(t, 30*time.Second, "the unanswered task to be TIMED_OUT", func() (bool, string) {
		old := getTask(t, lost.TaskId)
		return old.Status == model.TaskTimedOut, string(old.Status)
	})
	update(t, result(retry, model.CompletedTask, nil))
	waitWorkflow(t, id, model.WorkflowCompleted)
}
