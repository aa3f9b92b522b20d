package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

const (
	owner = "baton-integration@example.com"

	// waitLong bounds waits for anything the server does on its own: the real
	// 3.21 server's sweeper and delayed queues may act tens of seconds late.
	waitLong = 90 * time.Second
)

var nameSeq atomic.Int64

// uniq returns a new name unique to this run (and to this call, so that
// -count=N repeats do not collide): a server that keeps its state must never
// see the same name twice.
func uniq(base string) string {
	return fmt.Sprintf("it_%s_%s_%d", base, env.runID, nameSeq.Add(1))
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// needDevServer skips tests that need what only the in-process dev server has.
func needDevServer(t *testing.T, why string) {
	t.Helper()
	if env.external {
		t.Skipf("needs the in-process dev server (%s); CONDUCTOR_SERVER_URL names an external server", why)
	}
}

// registerTask registers a task definition with the fields a test cares
// about; ownerEmail is filled in because Conductor requires it by default.
func registerTask(t *testing.T, def model.TaskDef) model.TaskDef {
	t.Helper()
	if def.OwnerEmail == "" {
		def.OwnerEmail = owner
	}
	if def.ResponseTimeoutSeconds == 0 {
		def.ResponseTimeoutSeconds = 300
	}
	if err := executor.NewWorkflowExecutor(env.api).RegisterTaskDefsContext(testCtx(t, 30*time.Second), def); err != nil {
		t.Fatalf("register task def %s: %v", def.Name, err)
	}
	return def
}

// registerWorkflow registers a workflow of SIMPLE tasks.
func registerWorkflow(t *testing.T, def model.WorkflowDef) {
	t.Helper()
	if def.OwnerEmail == "" {
		def.OwnerEmail = owner
	}
	for i := range def.Tasks {
		if def.Tasks[i].Type == "" {
			def.Tasks[i].Type = model.TaskTypeSimple
		}
	}
	if err := executor.NewWorkflowExecutor(env.api).RegisterWorkflowContext(testCtx(t, 30*time.Second), false, &def); err != nil {
		t.Fatalf("register workflow def %s: %v", def.Name, err)
	}
}

// oneTaskWorkflow registers task type taskType (with def's other fields) and
// a workflow named after it with one task of that type, ref "only".
func oneTaskWorkflow(t *testing.T, def model.TaskDef) (wfName string) {
	t.Helper()
	registerTask(t, def)
	wfName = def.Name + "_wf"
	registerWorkflow(t, model.WorkflowDef{
		Name:  wfName,
		Tasks: []model.WorkflowTask{{Name: def.Name, TaskReferenceName: "only", InputParameters: map[string]interface{}{"n": "${workflow.input.n}"}}},
	})
	return wfName
}

func startWorkflow(t *testing.T, req model.StartWorkflowRequest) string {
	t.Helper()
	if req.Input == nil {
		req.Input = map[string]interface{}{}
	}
	id, err := startRetryingBusy(testCtx(t, 30*time.Second), &req)
	if err != nil {
		t.Fatalf("start workflow %s: %v", req.Name, err)
	}
	if id == "" {
		t.Fatalf("start workflow %s: empty id", req.Name)
	}
	return id
}

func getWorkflow(t *testing.T, id string) *model.Workflow {
	t.Helper()
	wf, err := executor.NewWorkflowExecutor(env.api).GetWorkflowContext(testCtx(t, 30*time.Second), id, true)
	if err != nil {
		t.Fatalf("get workflow %s: %v", id, err)
	}
	return wf
}

// waitWorkflow waits until the workflow reaches status and returns it.
func waitWorkflow(t *testing.T, id string, status model.WorkflowStatus) *model.Workflow {
	t.Helper()
	var wf *model.Workflow
	waitFor(t, waitLong, fmt.Sprintf("workflow %s to be %s", id, status), func() (bool, string) {
		wf = getWorkflow(t, id)
		return wf.Status == status, describeWorkflow(wf)
	})
	return wf
}

func describeWorkflow(wf *model.Workflow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %s, reason %q, tasks:", wf.Status, wf.ReasonForIncompletion)
	for _, tk := range wf.Tasks {
		fmt.Fprintf(&b, " [%s %s retry=%d polls=%d]", tk.ReferenceTaskName, tk.Status, tk.RetryCount, tk.PollCount)
	}
	return b.String()
}

// waitFor polls cond until it holds or within passes; state describes what
// was last seen, for the failure message.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s; last seen: %s", within, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pollTask long-polls taskType (in domain, if any) until it hands out one task.
func pollTask(t *testing.T, taskType, domain, workerID string) *model.Task {
	t.Helper()
	ctx := testCtx(t, waitLong+10*time.Second)
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		tasks, err := env.api.Tasks().BatchPoll(ctx, taskType, client.PollOptions{Count: 1, Timeout: time.Second, WorkerID: workerID, Domain: domain})
		if err != nil {
			t.Fatalf("poll %s (domain %q): %v", taskType, domain, err)
		}
		if len(tasks) > 1 {
			t.Fatalf("poll %s with count 1 returned %d tasks", taskType, len(tasks))
		}
		if len(tasks) == 1 {
			return &tasks[0]
		}
	}
	t.Fatalf("no %s task (domain %q) within %s", taskType, domain, waitLong)
	return nil
}

// pollNone checks that taskType has nothing to hand out right now.
func pollNone(t *testing.T, taskType, domain string) {
	t.Helper()
	tasks, err := env.api.Tasks().BatchPoll(testCtx(t, 30*time.Second), taskType, client.PollOptions{Count: 5, WorkerID: "it-none", Domain: domain})
	if err != nil {
		t.Fatalf("poll %s (domain %q): %v", taskType, domain, err)
	}
	if tasks == nil {
		t.Fatalf("poll %s: nil slice for no task, want an empty one", taskType)
	}
	if len(tasks) != 0 {
		t.Fatalf("poll %s (domain %q): got %d tasks (first %s in workflow %s), want none", taskType, domain, len(tasks), tasks[0].TaskId, tasks[0].WorkflowInstanceId)
	}
}

func update(t *testing.T, r *model.TaskResult) {
	t.Helper()
	if err := env.api.Tasks().UpdateTask(testCtx(t, 30*time.Second), r); err != nil {
		t.Fatalf("update task %s to %s: %v", r.TaskId, r.Status, err)
	}
}

func result(tk *model.Task, status model.TaskResultStatus, output map[string]interface{}) *model.TaskResult {
	r := model.NewTaskResult(tk)
	r.Status = status
	if output != nil {
		r.OutputData = output
	}
	return r
}

func getTask(t *testing.T, id string) *model.Task {
	t.Helper()
	tk, err := env.api.Tasks().GetTask(testCtx(t, 30*time.Second), id)
	if err != nil {
		t.Fatalf("get task %s: %v", id, err)
	}
	return tk
}

// tasksByRef returns the workflow's tasks with that reference name, in order.
func tasksByRef(wf *model.Workflow, ref string) []model.Task {
	var out []model.Task
	for _, tk := range wf.Tasks {
		if tk.ReferenceTaskName == ref {
			out = append(out, tk)
		}
	}
	return out
}

func wantErrIs(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one matching %v", what, err, target)
	}
}

// number reads a JSON number decoded into interface{} (float64) as an int.
func number(t *testing.T, v interface{}, what string) int {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%s: got %T %v, want a number", what, v, v)
	}
	return int(f)
}

// startRetryingBusy starts a workflow, trying again when Conductor 3.32
// with SQLite answers 500 "[SQLITE_BUSY] The database file is locked": the
// store was busy with other writers (a loaded CI machine shows it), and the
// client rightly does not resend a start on a 500 by itself. These tests are
// about the worker, not about starts under store contention (test/realfaults
// audits those).
func startRetryingBusy(ctx context.Context, req *model.StartWorkflowRequest) (string, error) {
	for attempt := 1; ; attempt++ {
		id, err := executor.NewWorkflowExecutor(env.api).StartWorkflowContext(ctx, req)
		var ae *client.APIError
		if err == nil || attempt == 8 || !errors.As(err, &ae) || ae.StatusCode != 500 || !strings.Contains(string(ae.Body), "SQLITE_BUSY") {
			return id, err
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

// restartServerFailedStarts starts again, with the same input {"n": i}, each
// workflow of ids (started by startMany) that no handler has seen and that the
// server itself terminated at its start because its store was busy: Conductor
// 3.32 with SQLite answers such a start 200 and then terminates or fails the
// workflow with "Error scheduling tasks" (failedAtScheduling), so its task
// never reaches a queue
// (a loaded CI machine shows it; test/realfaults counts it as the server's
// own loss). The worker cannot have lost a task that was never created, and
// the test goes on with the replacement, so it still moves all n tasks.
// While many workflows are unseen the tasks are still flowing and nothing is
// looked up. It returns how many workflows it started again.
func restartServerFailedStarts(t *testing.T, wfName string, ids []string, seen func(workflowID string) bool) int {
	t.Helper()
	unseen := unseenOf(ids, seen)
	if len(unseen) == 0 || len(unseen) > 20 {
		return 0
	}
	return restartBusyTerminated(t, wfName, ids, unseen)
}

// unseenOf returns the indexes in ids of the workflows no handler has seen.
func unseenOf(ids []string, seen func(workflowID string) bool) []int {
	var unseen []int
	for i, id := range ids {
		if !seen(id) {
			unseen = append(unseen, i)
		}
	}
	return unseen
}

// requeueNeverHandedOut handles the other way a loaded Conductor 3.32 with
// SQLite can drop work (seen once in CI, one task in 1,000): when the queue
// push after scheduling fails, the server logs "Error pushing tasks to the
// queue" and leaves the task SCHEDULED with no queue message, for its
// workflow repair service (off by default) to put back. So when a workflow
// no handler has seen still holds its task as SCHEDULED, never polled, a
// minute after it was scheduled, no worker can get it. The test then asks
// the server to requeue the task type's pending tasks, says so, and goes on
// waiting: the worker cannot have lost a task the server never handed out.
// A task the server handed out (IN_PROGRESS, polled) is never requeued
// here; that is a lost task, and the test fails on it. idle must report
// that the worker has no task in a slot, so that the requeue cannot hand out
// a running task again.
func requeueNeverHandedOut(t *testing.T, taskType string, ids []string, seen func(workflowID string) bool, idle func() bool) bool {
	t.Helper()
	unseen := unseenOf(ids, seen)
	if len(unseen) == 0 || len(unseen) > 20 || !idle() {
		return false
	}
	ctx := testCtx(t, time.Minute)
	var which []string
	for _, i := range unseen {
		which = append(which, ids[i])
		wf, err := executor.NewWorkflowExecutor(env.api).GetWorkflowContext(ctx, ids[i], true)
		if err != nil || wf.Status != model.WorkflowRunning {
			return false
		}
		for _, tk := range wf.Tasks {
			if tk.Status != model.TaskScheduled || tk.PollCount != 0 || time.Since(time.UnixMilli(tk.ScheduledTime)) < time.Minute {
				return false
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.url+"/tasks/queue/requeue/"+url.PathEscape(taskType), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := env.hc.Do(req)
	if err != nil {
		t.Logf("requeue %s: %v", taskType, err)
		return false
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("the server never handed out the task(s) of %d workflow(s) %v, still SCHEDULED a minute on; asked it to requeue %s: %d %s",
		len(which), which, taskType, resp.StatusCode, body)
	return resp.StatusCode == http.StatusOK
}

// describeUnseen logs, for each workflow whose task never reached a handler,
// what the server says of it and of its tasks, so that a failure tells a task
// the server never queued from one it handed out that the worker lost.
func describeUnseen(t *testing.T, ids []string, seen func(workflowID string) bool) {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	for _, i := range unseenOf(ids, seen) {
		id := ids[i]
		wf, err := executor.NewWorkflowExecutor(env.api).GetWorkflowContext(ctx, id, true)
		if err != nil {
			t.Logf("unseen workflow #%d %s: %v", i, id, err)
			continue
		}
		t.Logf("unseen workflow #%d %s: status %s (%q), created %d, %d task(s)", i, id, wf.Status, wf.ReasonForIncompletion, wf.CreateTime, len(wf.Tasks))
		for _, tk := range wf.Tasks {
			t.Logf("  task %s %s: status %s, worker %q, polls %d, scheduled %d, started %d, updated %d", tk.TaskId, tk.TaskDefName, tk.Status, tk.WorkerId, tk.PollCount, tk.ScheduledTime, tk.StartTime, tk.UpdateTime)
		}
	}
}

// failedAtScheduling reports whether the server ended wf at its start
// because scheduling its task failed, before any worker was handed the
// task. Conductor 3.32 with SQLite does it two ways when its store is busy:
// TERMINATED with SQLITE_BUSY in the reason, or FAILED with "Error
// scheduling tasks" (the SQLITE_BUSY is then only in the server's log) and
// the task CANCELED, never polled.
func failedAtScheduling(wf *model.Workflow) bool {
	if wf.Status != model.WorkflowTerminated && wf.Status != model.WorkflowFailed {
		return false
	}
	if !strings.Contains(wf.ReasonForIncompletion, "SQLITE_BUSY") && !strings.Contains(wf.ReasonForIncompletion, "Error scheduling tasks") {
		return false
	}
	for _, tk := range wf.Tasks {
		if tk.PollCount != 0 || tk.WorkerId != "" {
			return false // handed out: a loss the test must see
		}
	}
	return true
}

// restartBusyTerminated starts again each workflow ids[i], i in which, that
// the server ended at its start because its store was busy
// (failedAtScheduling, restartServerFailedStarts), replacing its id in ids.
func restartBusyTerminated(t *testing.T, wfName string, ids []string, which []int) int {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	restarted := 0
	for _, i := range which {
		wf, err := executor.NewWorkflowExecutor(env.api).GetWorkflowContext(ctx, ids[i], true)
		if err != nil {
			t.Logf("workflow #%d %s: %v", i, ids[i], err)
			continue
		}
		if !failedAtScheduling(wf) {
			continue
		}
		id, err := startRetryingBusy(ctx, &model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"n": i}})
		if err != nil {
			t.Fatalf("start %s #%d again: %v", wfName, i, err)
		}
		t.Logf("the server terminated workflow #%d %s at its start (%s); started it again as %s", i, ids[i], wf.ReasonForIncompletion, id)
		ids[i] = id
		restarted++
	}
	return restarted
}

// startMany starts n workflows of wfName with input {"n": i} (i = 0..n-1),
// a few at a time, and returns their ids by i.
func startMany(t *testing.T, wfName string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	ctx := testCtx(t, 5*time.Minute)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			id, err := startRetryingBusy(gctx, &model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"n": i}})
			if err != nil {
				return fmt.Errorf("start %s #%d: %w", wfName, i, err)
			}
			ids[i] = id
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return ids
}
