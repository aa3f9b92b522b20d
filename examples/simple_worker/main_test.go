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

// TestRun runs the example against the dev server and checks on the server
// that every workflow completed with SimpleWorker's output.
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
	ids, err := run(ctx, &out, srv.URL())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if len(ids) != executions {
		t.Fatalf("run returned %d workflow ids, want %d", len(ids), executions)
	}
	conductor := executor.NewWorkflowExecutor(client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL())))
	for _, id := range ids {
		w, err := conductor.GetWorkflowContext(ctx, id, true)
		if err != nil {
			t.Fatal(err)
		}
		if w.Status != model.WorkflowCompleted || len(w.Tasks) != 1 {
			t.Fatalf("workflow %s: status %s with %d tasks, want COMPLETED with 1", id, w.Status, len(w.Tasks))
		}
		task := w.Tasks[0]
		keys, _ := task.OutputData["Keys"].([]interface{})
		if task.TaskType != taskName || task.OutputData["Message"] != "Hello World" || len(keys) != 2 || keys[0] != "Key1" {
			t.Errorf("task %s output = %v, want SimpleWorker's", task.TaskType, task.OutputData)
		}
		if v, ok := task.OutputData["Value"].(float64); !ok || v < 0 {
			t.Errorf("Value = %v, want a non-negative number", task.OutputData["Value"])
		}
		if !strings.Contains(out.String(), id) {
			t.Errorf("output does not mention workflow %s:\n%s", id, out.String())
		}
	}
}
