package main

import (
	"bytes"
	"context"
	"strings"
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

// TestRun checks on the server that the task was handed out `checks` times
// (checks-1 IN_PROGRESS answers, each followed by a callback) and completed
// with the handler's final output.
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
	if w.Status != model.WorkflowCompleted || len(w.Tasks) != 1 {
		t.Fatalf("workflow: status %s with %d tasks, want COMPLETED with 1", w.Status, len(w.Tasks))
	}
	task := w.Tasks[0]
	if task.Status != model.TaskCompleted || task.PollCount != checks {
		t.Errorf("task: status %s after %d polls, want COMPLETED after %d", task.Status, task.PollCount, checks)
	}
	if task.OutputData["progress"] != "done" {
		t.Errorf("task output = %v, want progress done", task.OutputData)
	}
	if got := strings.Count(out.String(), "reported IN_PROGRESS"); got != checks-1 {
		t.Errorf("printed %d IN_PROGRESS visits, want %d:\n%s", got, checks-1, out.String())
	}
}
