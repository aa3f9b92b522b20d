package conductortest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// oneTask registers a workflow of one SIMPLE task of type taskType and
// returns the workflow's name.
func (a *api) oneTask(taskType string) string {
	a.t.Helper()
	name := taskType + "_wf"
	a.registerWorkflow(simpleWorkflow(name, taskType))
	return name
}

func TestRetriesCreateNewTasksThenFailWorkflow(t *testing.T) {
	a := newAPI(t)
	flaky := a.name("flaky")
	a.registerTasks(model.TaskDef{Name: flaky, RetryCount: 2, RetryDelaySeconds: 0, RetryLogic: model.RetryFixed})
	id := a.start(a.oneTask(flaky), map[string]any{"x": "y"})
	var ids []string
	for attempt := range 3 {
		task := a.pollDue(flaky, 0)
		if task.RetryCount != attempt {
			t.Fatalf("attempt %d: retryCount %d", attempt, task.RetryCount)
		}
		if attempt > 0 && task.RetriedTaskId != ids[attempt-1] {
			t.Fatalf("attempt %d: retriedTaskId %q, want %q", attempt, task.RetriedTaskId, ids[attempt-1])
		}
		ids = append(ids, task.TaskId)
		a.update(task, model.FailedTask, nil, fmt.Sprintf("boom %d", attempt))
	}
	wf := a.workflow(id)
	if wf.Status != model.WorkflowFailed {
		t.Fatalf("workflow %s, want FAILED", wf.Status)
	}
	want := fmt.Sprintf("Task %s failed with status: FAILED and reason: 'boom 2'", ids[2])
	if wf.ReasonForIncompletion != want {
		t.Fatalf("reason %q, want %q", wf.ReasonForIncompletion, want)
	}
	if len(wf.Tasks) != 3 || !wf.Tasks[0].Retried || !wf.Tasks[1].Retried || wf.Tasks[2].Retried {
		t.Fatalf("tasks %+v", wf.Tasks)
	}
	if len(wf.FailedReferenceTaskNames) != 1 || wf.FailedReferenceTaskNames[0] != "ref0" {
		t.Fatalf("failedReferenceTaskNames %v", wf.FailedReferenceTaskNames)
	}
	for i, tk := range wf.Tasks {
		if tk.Status != model.TaskFailed || tk.Seq != i+1 {
			t.Fatalf("task %d: %s seq %d", i, tk.Status, tk.Seq)
		}
	}
}

func TestRetryDelayMakesRetryInvisible(t *testing.T) {
	a := newAPI(t)
	slow := a.name("slow_retry")
	a.registerTasks(model.TaskDef{Name: slow, RetryCount: 1, RetryDelaySeconds: 60})
	id := a.start(a.oneTask(slow), nil)
	a.update(a.pollOne(slow), model.FailedTask, nil, "x")
	retry := a.workflow(id).Tasks[1]
	if retry.Status != model.TaskScheduled || retry.CallbackAfterSeconds != 60 || retry.StartDelayInSeconds != 60 {
		t.Fatalf("retry %+v", retry)
	}
	if got := a.pollBatch(slow, "count=1&timeout=0"); len(got) != 0 {
		t.Fatal("retry visible before its delay")
	}
}

// A retry with a short delay is handed out once the delay has passed.
func TestRetryDueAfterDelay(t *testing.T) {
	a := newAPI(t)
	soon := a.name("soon")
	a.registerTasks(model.TaskDef{Name: soon, RetryCount: 1, RetryDelaySeconds: 1})
	a.start(a.oneTask(soon), nil)
	a.update(a.pollOne(soon), model.FailedTask, nil, "x")
	if got := a.pollDue(soon, time.Second); got.RetryCount != 1 {
		t.Fatalf("retry %+v", got)
	}
}

func TestLongPollWakesForDelayedRetry(t *testing.T) {
	// The clock stands still but for Advance: the poll below cannot reach
	// its timeout, so an answer means the retry falling due woke it.
	a := newAPI(t, conductortest.WithLongPoll("early"), conductortest.WithStoppedClock())
	a.needLocal("a long poll that answers when a task becomes due; the 3.21 Redis queue sleeps out the timeout")
	soon := a.name("soon")
	a.registerTasks(model.TaskDef{Name: soon, RetryCount: 1, RetryDelaySeconds: 1})
	a.start(a.oneTask(soon), nil)
	a.update(a.pollOne(soon), model.FailedTask, nil, "x")
	// A long poll that starts before the retry is due gets it when it is.
	ch := a.pollAsync(soon, "count=1&timeout=4000")
	a.parked(t, soon, 1)
	a.srv.Advance(time.Second)
	if got := awaitPoll(t, ch).tasks; len(got) != 1 || got[0].RetryCount != 1 {
		t.Fatalf("long poll got %d tasks, want the retry", len(got))
	}
}

func TestTerminalErrorIsNotRetried(t *testing.T) {
	a := newAPI(t)
	terminal := a.name("terminal") // ad-hoc def: 3 retries
	id := a.start(a.oneTask(terminal), nil)
	a.update(a.pollOne(terminal), model.FailedWithTerminalErrorTask, nil, "bad input")
	wf := a.workflow(id)
	if wf.Status != model.WorkflowFailed || len(wf.Tasks) != 1 || wf.Tasks[0].Status != model.TaskFailedWithTerminalError {
		t.Fatalf("workflow %s with %d tasks", wf.Status, len(wf.Tasks))
	}
}

func TestAdHocTaskDefRetriesThreeTimesAfter60s(t *testing.T) {
	a := newAPI(t)
	adhoc := a.name("adhoc")
	id := a.start(a.oneTask(adhoc), nil)
	first := a.pollOne(adhoc)
	if first.ResponseTimeoutSeconds != 3600 || first.WorkflowTask.TaskDefinition.RetryCount != 3 {
		t.Fatalf("ad-hoc definition %+v", first.WorkflowTask.TaskDefinition)
	}
	a.update(first, model.FailedTask, nil, "x")
	if r := a.workflow(id).Tasks[1]; r.CallbackAfterSeconds != 60 || r.RetryCount != 1 {
		t.Fatalf("retry %+v", r)
	}
}

func TestWorkflowTaskRetryCountOverridesDef(t *testing.T) {
	a := newAPI(t)
	override := a.name("override")
	a.registerTasks(model.TaskDef{Name: override, RetryCount: 5, RetryDelaySeconds: 0})
	def := simpleWorkflow(a.name("one"), override)
	zero := 0
	def.Tasks[0].RetryCount = &zero
	a.registerWorkflow(def)
	id := a.start(def.Name, nil)
	a.update(a.pollOne(override), model.FailedTask, nil, "x")
	if wf := a.workflow(id); wf.Status != model.WorkflowFailed || len(wf.Tasks) != 1 {
		t.Fatalf("workflow %s with %d tasks, want FAILED without retry", wf.Status, len(wf.Tasks))
	}
}

func TestOptionalTaskCompletesWithErrors(t *testing.T) {
	a := newAPI(t)
	opt, after := a.name("opt"), a.name("after_opt")
	a.registerTasks(model.TaskDef{Name: opt, RetryCount: 0})
	def := simpleWorkflow(a.name("two"), opt, after)
	def.Tasks[0].Optional = true
	a.registerWorkflow(def)
	id := a.start(def.Name, nil)
	a.update(a.pollOne(opt), model.FailedTask, nil, "x")
	a.update(a.pollOne(after), model.CompletedTask, map[string]any{"last": 1}, "")
	wf := a.workflow(id)
	if wf.Status != model.WorkflowCompleted || wf.Tasks[0].Status != model.TaskCompletedWithErrors {
		t.Fatalf("workflow %s, first task %s", wf.Status, wf.Tasks[0].Status)
	}
	if wf.Output["last"] != 1.0 {
		t.Fatalf("output %v, want the last task's output", wf.Output)
	}
}

// Definitions are snapshotted at start: changing them later affects only
// new executions.
func TestDefinitionsSnapshottedAtStart(t *testing.T) {
	a := newAPI(t)
	snap := a.name("snap")
	a.registerTasks(model.TaskDef{Name: snap, RetryCount: 0})
	wfName := a.oneTask(snap)
	first := a.start(wfName, nil)
	a.registerTasks(model.TaskDef{Name: snap, RetryCount: 2, RetryDelaySeconds: 0})
	second := a.start(wfName, nil)
	for range 2 {
		a.update(a.pollOne(snap), model.FailedTask, nil, "x")
	}
	if wf := a.workflow(first); wf.Status != model.WorkflowFailed || len(wf.Tasks) != 1 {
		t.Fatalf("first: %s with %d tasks, want FAILED without retry", wf.Status, len(wf.Tasks))
	}
	if wf := a.workflow(second); wf.Status != model.WorkflowRunning || len(wf.Tasks) != 2 {
		t.Fatalf("second: %s with %d tasks, want a retry", wf.Status, len(wf.Tasks))
	}
}
