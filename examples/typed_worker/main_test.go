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

// TestRun checks on the server that good input gave the typed output and
// that bad input failed the task for good, with a reason naming the field
// and no retry.
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
	res, err := run(ctx, &out, srv.URL())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	conductor := executor.NewWorkflowExecutor(client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL())))

	good, err := conductor.GetWorkflowContext(ctx, res.goodID, true)
	if err != nil {
		t.Fatal(err)
	}
	if good.Status != model.WorkflowCompleted || len(good.Tasks) != 1 {
		t.Fatalf("good workflow: %s with %d tasks, want COMPLETED with 1", good.Status, len(good.Tasks))
	}
	if g := good.Tasks[0].OutputData["greeting"]; g != "Hello, Gopher! Hello, Gopher!" {
		t.Errorf("greeting = %v", g)
	}

	bad, err := conductor.GetWorkflowContext(ctx, res.badID, true)
	if err != nil {
		t.Fatal(err)
	}
	if bad.Status != model.WorkflowFailed || len(bad.Tasks) != 1 {
		t.Fatalf("bad workflow: %s with %d tasks, want FAILED with 1 (no retry)", bad.Status, len(bad.Tasks))
	}
	task := bad.Tasks[0]
	if task.Status != model.TaskFailedWithTerminalError || !strings.Contains(task.ReasonForIncompletion, `"times"`) {
		t.Errorf("bad task: status %s reason %q, want FAILED_WITH_TERMINAL_ERROR naming \"times\"", task.Status, task.ReasonForIncompletion)
	}
	// What the program prints says the same thing, in the task's terms.
	for _, want := range []string{
		`good input ("times": 2): task COMPLETED, output {"greeting":"Hello, Gopher! Hello, Gopher!","length":29}`,
		`bad input ("times": "twice"): task FAILED_WITH_TERMINAL_ERROR after 1 attempt(s), Greet never ran; reason: task input field "times"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestGreet(t *testing.T) {
	out, err := Greet(context.Background(), GreetInput{Name: "Ada"})
	if err != nil || out.Greeting != "Hello, Ada!" || out.Length != len("Hello, Ada!") {
		t.Fatalf("Greet = %+v, %v", out, err)
	}
	if _, err := Greet(context.Background(), GreetInput{Name: " "}); !model.IsNonRetryable(err) {
		t.Fatalf("empty name: err = %v, want a terminal error", err)
	}
}
