package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun checks on the server that both approvals were completed with the
// output given from outside, and that the workflow passed them on.
func TestRun(t *testing.T) {
	// Credentials in the developer's environment would make the example ask
	// the dev server (which runs without auth here) for a token.
	t.Setenv(settings.EnvAuthKey, "")
	t.Setenv(settings.EnvAuthSecret, "")
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var out bytes.Buffer
	id, err := run(ctx, &out, srv.URL())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	conductor := executor.NewWorkflowExecutor(client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL())))
	w, err := conductor.GetWorkflowContext(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != model.WorkflowCompleted {
		t.Fatalf("workflow status %s, want COMPLETED", w.Status)
	}
	if w.Output["manager"] != "alice" || w.Output["finance"] != "bob" {
		t.Errorf("workflow output = %v, want manager alice and finance bob", w.Output)
	}
	byRef := map[string]model.Task{}
	for _, task := range w.Tasks {
		byRef[task.ReferenceTaskName] = task
	}
	for _, ref := range []string{managerTask, financeTask} {
		task, ok := byRef[ref]
		if !ok {
			t.Fatalf("no task %s in %v", ref, w.Tasks)
		}
		if task.Status != model.TaskCompleted || task.OutputData["approved"] != true {
			t.Errorf("task %s: status %s output %v, want COMPLETED and approved", ref, task.Status, task.OutputData)
		}
		if task.PollCount != 0 {
			t.Errorf("task %s was polled %d times; no worker should have touched it", ref, task.PollCount)
		}
	}
	if byRef[financeTask].InputData["managerApproved"] != true {
		t.Errorf("finance step input = %v, want managerApproved true from the first approval", byRef[financeTask].InputData)
	}
}
