// Command long_running shows a task that takes longer than a worker should
// hold on to it: the handler answers IN_PROGRESS with CallbackAfterSeconds,
// the server puts the task back in its queue and hands it out again after
// that delay, and the handler completes it on a later visit.
//
// This keeps worker slots free while the real work (a batch job, a human, an
// external system) makes progress elsewhere. The handler stays stateless: it
// decides from the task itself (PollCount, or the output it saved on its
// previous visit, which the server returns with the task).
//
// It uses the Conductor server at CONDUCTOR_SERVER_URL when set, and the
// in-process dev server otherwise, and exits once its workflow has completed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
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
	taskName     = "long_running_task"
	workflowName = "baton_long_running_demo"
	// checks is how many times the task is visited in all: checks-1 answers
	// IN_PROGRESS, the last one completes it.
	checks = 3
	// callbackAfter is short for the demo; the original documentation uses
	// 60 seconds, a typical value for a job checked once a minute.
	callbackAfter = 1
)

// LongRunningTaskWorker reports progress until the task has been visited
// `checks` times, then completes it.
func LongRunningTaskWorker(t *model.Task) (interface{}, error) {
	if t.PollCount < checks {
		taskResult := model.NewTaskResult(t)
		// Keep the task IN_PROGRESS and have the server send it back in
		// callbackAfter seconds. Output sent now is kept on the task.
		taskResult.Status = model.InProgressTask
		taskResult.CallbackAfterSeconds = callbackAfter
		taskResult.OutputData = map[string]interface{}{"progress": fmt.Sprintf("%d/%d", t.PollCount, checks)}
		return taskResult, nil
	}
	return map[string]interface{}{"progress": "done", "visits": t.PollCount}, nil
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
		fmt.Fprintln(os.Stderr, "long_running:", err)
		stop()
		os.Exit(1)
	}
}

// run registers and starts one workflow with the long-running task, runs the
// worker until the workflow has ended, and returns the workflow id.
func run(ctx context.Context, out io.Writer, serverURL string) (_ string, runErr error) {
	// The hook below prints from worker goroutines while run prints from
	// this one: serialise the writes.
	out = &syncWriter{w: out}
	apiClient := client.NewAPIClient(
		settings.NewAuthenticationSettings(os.Getenv(settings.EnvAuthKey), os.Getenv(settings.EnvAuthSecret)),
		settings.NewHttpSettings(serverURL),
	)
	conductor := executor.NewWorkflowExecutor(apiClient)
	if err := conductor.RegisterTaskDefsContext(ctx, model.TaskDef{
		Name: taskName, OwnerEmail: "examples@example.com",
		RetryCount: 0, ResponseTimeoutSeconds: 30, TimeoutSeconds: 120,
	}); err != nil {
		return "", fmt.Errorf("register task definition: %w", err)
	}
	if err := conductor.RegisterWorkflowContext(ctx, true, &model.WorkflowDef{
		Name: workflowName, Version: 1, SchemaVersion: 2, OwnerEmail: "examples@example.com",
		Tasks: []model.WorkflowTask{{Name: taskName, TaskReferenceName: "job", Type: model.TaskTypeSimple}},
	}); err != nil {
		return "", fmt.Errorf("register workflow: %w", err)
	}

	taskRunner := worker.NewTaskRunnerWithApiClient(apiClient, worker.WithHooks(worker.Hooks{
		OnTaskFinished: func(t *model.Task, status model.TaskResultStatus, _ time.Duration) {
			fmt.Fprintf(out, "visit %d of task %s: reported %s\n", t.PollCount, t.TaskId, status)
		},
	}))
	defer func() {
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = taskRunner.Shutdown(shutCtx)
		taskRunner.WaitWorkers()
		// A wrong URL or key stops the workers by themselves; say so.
		runErr = errors.Join(runErr, taskRunner.Err())
	}()
	if err := taskRunner.StartWorker(taskName, LongRunningTaskWorker, 1, time.Second); err != nil {
		return "", err
	}

	id, err := conductor.StartWorkflowContext(ctx, &model.StartWorkflowRequest{Name: workflowName, Version: 1, Input: map[string]interface{}{}})
	if err != nil {
		return "", fmt.Errorf("start workflow: %w", err)
	}
	fmt.Fprintf(out, "started workflow %s\n", id)
	for {
		w, err := conductor.GetWorkflowContext(ctx, id, false)
		if err != nil {
			return id, err
		}
		if w.Status.Terminal() {
			if w.Status != model.WorkflowCompleted {
				return id, fmt.Errorf("workflow %s ended %s: %s", id, w.Status, w.ReasonForIncompletion)
			}
			fmt.Fprintf(out, "workflow %s %s, output %v\n", id, w.Status, w.Output)
			return id, nil
		}
		select {
		case <-ctx.Done():
			return id, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// syncWriter serialises writes to w, which need not be safe for concurrent
// use.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
