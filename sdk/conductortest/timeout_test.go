package conductortest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// The timeout tests run in parallel: against a remote server each waits for
// its sweeper, which may act about 30 s late.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		def        model.TaskDef
		poll       bool
		wantWF     model.WorkflowStatus
		wantReason string
		wantTasks  int
	}{
		{"response timeout then retry then fail", model.TaskDef{Name: "rt", RetryCount: 1, RetryDelaySeconds: 0, ResponseTimeoutSeconds: 1},
			true, model.WorkflowTimedOut, "responseTimeout: 1 exceeded", 2},
		{"timeoutSeconds TIME_OUT_WF", model.TaskDef{Name: "ts", RetryCount: 3, TimeoutSeconds: 1, ResponseTimeoutSeconds: 1, TimeoutPolicy: model.TimeoutPolicyTimeOutWF},
			true, model.WorkflowTimedOut, "", 1},
		{"pollTimeoutSeconds", model.TaskDef{Name: "pt", RetryCount: 0, PollTimeoutSeconds: 1},
			false, model.WorkflowTimedOut, "poll timed out", 1},
		// ALERT_ONLY: timeoutSeconds does nothing, even when the response
		// timeout's check runs after it has passed; the response timeout
		// then acts alone (and, with no retry left, fails the workflow).
		{"timeoutSeconds ALERT_ONLY", model.TaskDef{Name: "ao", RetryCount: 0, TimeoutSeconds: 1, ResponseTimeoutSeconds: 1, TimeoutPolicy: model.TimeoutPolicyAlertOnly},
			true, model.WorkflowTimedOut, "responseTimeout: 1 exceeded", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			if c.wantTasks == 2 && a.remote && !a.is321() {
				// Seen on 3.32.3: the task past its response timeout stays
				// IN_PROGRESS and is never retried. A server bug, not
				// copied; the worker's lease extension keeps live tasks
				// from reaching it.
				t.Skipf("Conductor %s does not retry a task after its response timeout (known server bug, see docs/compatibility.md)", a.version())
			}
			c.def.Name = a.name(c.def.Name)
			a.registerTasks(c.def)
			wfName := a.name("one")
			a.registerWorkflow(simpleWorkflow(wfName, c.def.Name))
			id := a.start(wfName, nil)
			if c.poll {
				a.pollOne(c.def.Name)
				if c.wantTasks == 2 {
					a.eventually("retry", 10*time.Second, func() bool { return len(a.workflow(id).Tasks) == 2 })
					a.pollDue(c.def.Name, 0)
				}
			}
			wf := waitTerminal(t, a, id)
			if wf.Status != c.wantWF || len(wf.Tasks) != c.wantTasks {
				t.Fatalf("workflow %s with %d tasks", wf.Status, len(wf.Tasks))
			}
			last := wf.Tasks[len(wf.Tasks)-1]
			if last.Status != model.TaskTimedOut || !strings.Contains(last.ReasonForIncompletion, c.wantReason) {
				t.Fatalf("last task %s %q", last.Status, last.ReasonForIncompletion)
			}
		})
	}
}

func TestResponseTimeoutKeptAliveByExtendLease(t *testing.T) {
	t.Parallel()
	// The dev server's clock moves only with Advance, so the task sees
	// exactly the time the test lets pass between two extensions.
	a := newAPI(t, conductortest.WithStoppedClock())
	taskType, wfName := a.name("lease"), a.name("one")
	a.registerTasks(model.TaskDef{Name: taskType, RetryCount: 0, ResponseTimeoutSeconds: 1})
	a.registerWorkflow(simpleWorkflow(wfName, taskType))
	id := a.start(wfName, nil)
	task := a.pollOne(taskType)
	lease := model.TaskResult{WorkflowInstanceId: id, TaskId: task.TaskId, ExtendLease: true}
	if a.remote {
		// A real server's clock runs: extend every 300 ms for 2.5 s.
		deadline := time.Now().Add(2500 * time.Millisecond)
		for time.Now().Before(deadline) {
			a.expect(200, "POST", "/tasks", lease)
			time.Sleep(300 * time.Millisecond)
		}
	} else {
		// 2.4 s in all, never more than 600 ms without an extension.
		for range 4 {
			a.expect(200, "POST", "/tasks", lease)
			a.srv.Advance(600 * time.Millisecond)
		}
	}
	if got := a.task(task.TaskId); got.Status != model.TaskInProgress {
		t.Fatalf("task %s despite lease extensions", got.Status)
	}
	a.update(task, model.CompletedTask, nil, "")
	if wf := a.workflow(id); wf.Status != model.WorkflowCompleted {
		t.Fatalf("workflow %s", wf.Status)
	}
}

func TestWorkflowTimeout(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	wfName := a.name("wto")
	def := simpleWorkflow(wfName, a.name("wto_task"))
	def.TimeoutSeconds = 1
	def.TimeoutPolicy = model.TimeoutPolicyTimeOutWF
	a.registerWorkflow(def)
	id := a.start(wfName, nil)
	wf := waitTerminal(t, a, id)
	if wf.Status != model.WorkflowTimedOut {
		t.Fatalf("workflow %s, want TIMED_OUT", wf.Status)
	}
	// Conductor stores the workflow's terminal status first and cancels its
	// open tasks after (WorkflowExecutor.terminateWorkflow), so a read in
	// between sees a TIMED_OUT workflow with a SCHEDULED task (seen once on
	// 3.21.14 in CI). What matters is that the task ends CANCELED.
	a.eventually("the timed-out workflow's task to be CANCELED", 10*time.Second, func() bool {
		wf = a.workflow(id)
		return wf.Tasks[0].Status == model.TaskCanceled
	})
}
