package integration

import (
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// TestUpdateV2NeverLosesTheNextTask: UpdateTaskV2 hands back the next task
// of the same type and domain, or nil, and with nil a plain poll finds it.
// 3.21 looks for a next task after every update (an IN_PROGRESS one gets
// the same task back), 3.32 only after a terminal one, and 3.32.3 was seen
// answering 204 for a domain although a task was queued; code that polls
// after a nil next task works on all of them.
func TestUpdateV2NeverLosesTheNextTask(t *testing.T) {
	t.Parallel()
	task := uniq("v2next")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task})
	const domain = "blue"
	for range 2 {
		startWorkflow(t, model.StartWorkflowRequest{Name: wfName, TaskToDomain: map[string]string{task: domain}})
	}
	tc := env.api.Tasks()
	ctx := testCtx(t, time.Minute)
	first := pollTask(t, task, domain, "it-v2")
	next, err := tc.UpdateTaskV2(ctx, result(first, model.CompletedTask, nil))
	if err != nil {
		t.Fatalf("UpdateTaskV2: %v", err)
	}
	if next == nil {
		next = pollTask(t, task, domain, "it-v2")
	}
	if next.TaskId == first.TaskId || next.Domain != domain || next.Status != model.TaskInProgress {
		t.Fatalf("next task %s in domain %q is %s, want the other task of domain %s, IN_PROGRESS", next.TaskId, next.Domain, next.Status, domain)
	}

	// An IN_PROGRESS result: 3.21 hands the same task straight back, 3.32
	// answers with no task; either way it is not lost.
	again, err := tc.UpdateTaskV2(ctx, result(next, model.InProgressTask, nil))
	if err != nil {
		t.Fatalf("UpdateTaskV2 IN_PROGRESS: %v", err)
	}
	switch env.version {
	case conductortest.Version321:
		if again == nil || again.TaskId != next.TaskId {
			t.Fatalf("IN_PROGRESS update-v2 on %s gave %+v, want the same task back", env.version, again)
		}
	case conductortest.Version332:
		if again != nil {
			t.Fatalf("IN_PROGRESS update-v2 on %s gave task %s, want none", env.version, again.TaskId)
		}
		again = pollTask(t, task, domain, "it-v2")
		if again.TaskId != next.TaskId {
			t.Fatalf("poll after an IN_PROGRESS update gave %s, want %s", again.TaskId, next.TaskId)
		}
	default:
		if again == nil {
			again = pollTask(t, task, domain, "it-v2")
		}
	}
	update(t, result(again, model.CompletedTask, nil))
}
