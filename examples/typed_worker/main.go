// Command typed_worker shows worker.Typed: the handler takes and returns
// plain Go structs, Baton decodes the task input into the first and encodes
// the second as the task output. An input that does not fit the struct (a
// string where a number is expected, say) fails the task with
// FAILED_WITH_TERMINAL_ERROR and a reason naming the field, since retrying
// cannot fix it; the handler never sees it.
//
// It uses the Conductor server at CONDUCTOR_SERVER_URL when set, and the
// in-process dev server otherwise. It starts one workflow with good input and
// one with bad input, prints how each ended, and exits.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

const (
	taskName     = "greet"
	workflowName = "baton_typed_worker_demo"
)

// GreetInput is the task input the handler expects.
type GreetInput struct {
	Name  string `json:"name"`
	Times int    `json:"times"`
}

// GreetOutput becomes the task output.
type GreetOutput struct {
	Greeting string `json:"greeting"`
	Length   int    `json:"length"`
}

// Greet is an ordinary Go function over typed values; worker.Typed turns it
// into a handler. Errors work as in any handler: worker.Terminal marks one
// that a retry cannot fix.
func Greet(ctx context.Context, in GreetInput) (GreetOutput, error) {
	if strings.TrimSpace(in.Name) == "" {
		return GreetOutput{}, worker.Terminal(errors.New("input name must not be empty"))
	}
	times := max(in.Times, 1)
	worker.LoggerFromContext(ctx).WithField("name", in.Name).Debug("greeting")
	g := strings.TrimSpace(strings.Repeat("Hello, "+in.Name+"! ", times))
	return GreetOutput{Greeting: g, Length: len(g)}, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serverURL := os.Getenv(settings.EnvServerURL)
	if serverURL == "" {
		dev := conductortest.NewServer()
		defer dev.Close()
		serverURL = dev.URL()
	}
	if _, err := run(ctx, os.Stdout, serverURL); err != nil {
		fmt.Fprintln(os.Stderr, "typed_worker:", err)
		stop()
		os.Exit(1)
	}
}

// result tells how the demo's two workflows ended.
type result struct {
	goodID, badID string
}

// run registers the workflow, starts it with good and with bad input, runs
// the typed worker until both have ended, and returns their ids. The bad one
// is expected to fail; anything else is an error.
func run(ctx context.Context, out io.Writer, serverURL string) (_ result, runErr error) {
	var res result
	apiClient := client.NewAPIClient(
		settings.NewAuthenticationSettings(os.Getenv(settings.EnvAuthKey), os.Getenv(settings.EnvAuthSecret)),
		settings.NewHttpSettings(serverURL),
	)
	conductor := executor.NewWorkflowExecutor(apiClient)
	if err := conductor.RegisterTaskDefsContext(ctx, model.TaskDef{
		Name: taskName, OwnerEmail: "examples@example.com",
		RetryCount: 2, RetryDelaySeconds: 1, ResponseTimeoutSeconds: 30, TimeoutSeconds: 60,
	}); err != nil {
		return res, fmt.Errorf("register task definition: %w", err)
	}
	if err := conductor.RegisterWorkflowContext(ctx, true, &model.WorkflowDef{
		Name: workflowName, Version: 1, SchemaVersion: 2, OwnerEmail: "examples@example.com",
		Tasks: []model.WorkflowTask{{Name: taskName, TaskReferenceName: "greet", Type: model.TaskTypeSimple,
			InputParameters: map[string]interface{}{"name": "${workflow.input.name}", "times": "${workflow.input.times}"}}},
	}); err != nil {
		return res, fmt.Errorf("register workflow: %w", err)
	}

	runner := worker.NewTaskRunnerWithApiClient(apiClient)
	defer func() {
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = runner.Shutdown(shutCtx)
		runner.WaitWorkers()
		// A wrong URL or key stops the workers by themselves; say so.
		runErr = errors.Join(runErr, runner.Err())
	}()
	if err := runner.Start(taskName, worker.Typed(Greet), worker.BatchSize(2)); err != nil {
		return res, err
	}

	var err error
	res.goodID, err = conductor.StartWorkflowContext(ctx, &model.StartWorkflowRequest{Name: workflowName, Version: 1,
		Input: map[string]interface{}{"name": "Gopher", "times": 2}})
	if err != nil {
		return res, fmt.Errorf("start workflow: %w", err)
	}
	// "times" is a string here: it cannot be decoded into GreetInput.Times.
	res.badID, err = conductor.StartWorkflowContext(ctx, &model.StartWorkflowRequest{Name: workflowName, Version: 1,
		Input: map[string]interface{}{"name": "Gopher", "times": "twice"}})
	if err != nil {
		return res, fmt.Errorf("start workflow: %w", err)
	}

	good, err := waitForEnd(ctx, conductor, res.goodID)
	if err != nil {
		return res, err
	}
	// What the handler's typed output became on the server, as JSON.
	if len(good.Tasks) == 1 {
		b, _ := json.Marshal(good.Tasks[0].OutputData)
		fmt.Fprintf(out, "good input (\"times\": 2): task %s, output %s\n", good.Tasks[0].Status, b)
	}
	bad, err := waitForEnd(ctx, conductor, res.badID)
	if err != nil {
		return res, err
	}
	// The task failed for good before the handler ran; the server did not
	// retry it, so the workflow failed with it.
	if len(bad.Tasks) >= 1 {
		tk := bad.Tasks[len(bad.Tasks)-1]
		fmt.Fprintf(out, "bad input (\"times\": \"twice\"): task %s after %d attempt(s), Greet never ran; reason: %s\n",
			tk.Status, len(bad.Tasks), tk.ReasonForIncompletion)
	}
	if good.Status != model.WorkflowCompleted || bad.Status != model.WorkflowFailed {
		return res, fmt.Errorf("want the good workflow COMPLETED and the bad one FAILED, got %s and %s", good.Status, bad.Status)
	}
	return res, nil
}

// waitForEnd returns the workflow (with its tasks) once it has ended.
func waitForEnd(ctx context.Context, conductor *executor.WorkflowExecutor, id string) (*model.Workflow, error) {
	for {
		w, err := conductor.GetWorkflowContext(ctx, id, true)
		if err != nil {
			return nil, err
		}
		if w.Status.Terminal() {
			return w, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
