// Command simple_worker is the smallest Baton worker: a function that takes
// a task and returns a struct, started with StartWorker and kept running with
// WaitWorkers, as in the original Go SDK's documentation.
//
// It uses the Conductor server at CONDUCTOR_SERVER_URL when set, and the
// in-process dev server otherwise. To have something to do, it registers a
// one-step workflow, starts a few executions, prints their outputs once they
// have completed, and stops its workers.
package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

// TaskOutput is what SimpleWorker returns; it becomes the task's output, so
// it must encode to a JSON object.
type TaskOutput struct {
	Keys    []string
	Message string
	Value   float64
}

// SimpleWorker handles one task. Returning an error instead would mark the
// task FAILED, and the server would retry it as its definition says.
func SimpleWorker(t *model.Task) (interface{}, error) {
	return &TaskOutput{
		Keys:    []string{"Key1", "Key2"},
		Message: "Hello World",
		Value:   rand.ExpFloat64(),
	}, nil
}

const (
	taskName     = "simple_task"
	workflowName = "baton_simple_worker_demo"
	executions   = 3
)

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
		fmt.Fprintln(os.Stderr, "simple_worker:", err)
		stop()
		os.Exit(1)
	}
}

// run registers the demo workflow, starts it a few times, runs SimpleWorker
// until they have completed and returns their ids.
func run(ctx context.Context, out io.Writer, serverURL string) ([]string, error) {
	apiClient := client.NewAPIClient(
		settings.NewAuthenticationSettings(os.Getenv(settings.EnvAuthKey), os.Getenv(settings.EnvAuthSecret)),
		settings.NewHttpSettings(serverURL),
	)
	ids, err := setUp(ctx, apiClient)
	if err != nil {
		return nil, err
	}

	taskRunner := worker.NewTaskRunnerWithApiClient(apiClient)
	// Poll "simple_task" with a batch size of 1; the interval is the pause
	// after an empty answer.
	if err := taskRunner.StartWorker(taskName, SimpleWorker, 1, time.Second); err != nil {
		return nil, err
	}

	// Something must end the demo: stop the workers once the workflows are
	// done (a real worker process just runs until it is told to stop).
	waitCtx, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	waitErr := make(chan error, 1)
	go func() {
		err := waitForCompletion(waitCtx, apiClient, ids, out)
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = taskRunner.Shutdown(shutCtx)
		waitErr <- err
	}()

	// Block until every worker has stopped: after Shutdown, or when the
	// server's answers proved the URL or the key wrong, which Err reports.
	taskRunner.WaitWorkers()
	if err := taskRunner.Err(); err != nil {
		stopWaiting()
		<-waitErr
		return ids, err
	}
	return ids, <-waitErr
}

// setUp registers the task and workflow definitions and starts the demo
// workflows.
func setUp(ctx context.Context, apiClient *client.APIClient) ([]string, error) {
	conductor := executor.NewWorkflowExecutor(apiClient)
	err := conductor.RegisterTaskDefsContext(ctx, model.TaskDef{
		Name: taskName, OwnerEmail: "examples@example.com",
		RetryCount: 1, RetryDelaySeconds: 1, ResponseTimeoutSeconds: 30, TimeoutSeconds: 60,
	})
	if err != nil {
		return nil, fmt.Errorf("register task definition: %w", err)
	}
	err = conductor.RegisterWorkflowContext(ctx, true, &model.WorkflowDef{
		Name: workflowName, Version: 1, SchemaVersion: 2, OwnerEmail: "examples@example.com",
		Tasks: []model.WorkflowTask{{Name: taskName, TaskReferenceName: "simple", Type: model.TaskTypeSimple}},
	})
	if err != nil {
		return nil, fmt.Errorf("register workflow: %w", err)
	}
	var ids []string
	for i := range executions {
		id, err := conductor.StartWorkflowContext(ctx, &model.StartWorkflowRequest{Name: workflowName, Version: 1, Input: map[string]interface{}{"n": i}})
		if err != nil {
			return nil, fmt.Errorf("start workflow: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// waitForCompletion polls the server until every workflow has ended and
// prints each one's output.
func waitForCompletion(ctx context.Context, apiClient *client.APIClient, ids []string, out io.Writer) error {
	conductor := executor.NewWorkflowExecutor(apiClient)
	for _, id := range ids {
		for {
			w, err := conductor.GetWorkflowContext(ctx, id, false)
			if err != nil {
				return err
			}
			if w.Status.Terminal() {
				if w.Status != model.WorkflowCompleted {
					return fmt.Errorf("workflow %s ended %s: %s", id, w.Status, w.ReasonForIncompletion)
				}
				fmt.Fprintf(out, "workflow %s %s, output %v\n", id, w.Status, w.Output)
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
