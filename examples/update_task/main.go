// Command update_task completes tasks from outside a worker: a workflow waits
// for two approvals, and this program gives them the way a web handler or a
// chat bot would when a person clicks "approve". The first approval is
// completed by task id, the second by the task's reference name, which is
// handy when the caller knows only the workflow id.
//
// No worker polls these task types: a SIMPLE task stays SCHEDULED until
// someone reports its result.
//
// It uses the Conductor server at CONDUCTOR_SERVER_URL when set, and the
// in-process dev server otherwise, and exits once the workflow has completed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

const (
	workflowName = "baton_update_task_demo"
	managerTask  = "manager_approval"
	financeTask  = "finance_approval"
)

// Approval is the output given to each approval task.
type Approval struct {
	Approved bool   `json:"approved"`
	By       string `json:"by"`
	Comment  string `json:"comment"`
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
		fmt.Fprintln(os.Stderr, "update_task:", err)
		stop()
		os.Exit(1)
	}
}

// run starts an expense workflow, approves both of its steps from outside
// and returns the workflow id once the workflow has completed.
func run(ctx context.Context, out io.Writer, serverURL string) (string, error) {
	apiClient := client.NewAPIClient(
		settings.NewAuthenticationSettings(os.Getenv(settings.EnvAuthKey), os.Getenv(settings.EnvAuthSecret)),
		settings.NewHttpSettings(serverURL),
	)
	if err := register(ctx, apiClient); err != nil {
		return "", err
	}
	exec := executor.NewWorkflowExecutor(apiClient)
	conductor := executor.NewWorkflowExecutor(apiClient)

	id, err := conductor.StartWorkflowContext(ctx, &model.StartWorkflowRequest{
		Name: workflowName, Version: 1,
		Input: map[string]interface{}{"expense": "conference ticket", "amount": 450},
	})
	if err != nil {
		return "", fmt.Errorf("start workflow: %w", err)
	}
	fmt.Fprintf(out, "started workflow %s, waiting for approvals\n", id)

	// 1. By task id: find the waiting task, look at it, complete it.
	task, err := waitForTask(ctx, conductor, id, managerTask)
	if err != nil {
		return id, err
	}
	details, err := exec.GetTask(task.TaskId)
	if err != nil {
		return id, fmt.Errorf("get task: %w", err)
	}
	fmt.Fprintf(out, "task %s (%s) is %s with input %v\n", details.TaskId, details.ReferenceTaskName, details.Status, details.InputData)
	err = exec.UpdateTask(task.TaskId, id, model.CompletedTask,
		&Approval{Approved: true, By: "alice", Comment: "within budget"})
	if err != nil {
		return id, fmt.Errorf("complete %s by task id: %w", managerTask, err)
	}
	fmt.Fprintf(out, "%s completed by task id\n", managerTask)

	// 2. By reference name: only the workflow id and the step's name needed.
	if _, err := waitForTask(ctx, conductor, id, financeTask); err != nil {
		return id, err
	}
	err = exec.UpdateTaskByRefName(financeTask, id, model.CompletedTask,
		&Approval{Approved: true, By: "bob", Comment: "paid from the training budget"})
	if err != nil {
		return id, fmt.Errorf("complete %s by reference name: %w", financeTask, err)
	}
	fmt.Fprintf(out, "%s completed by reference name\n", financeTask)

	w, err := waitForEnd(ctx, conductor, id)
	if err != nil {
		return id, err
	}
	if w.Status != model.WorkflowCompleted {
		return id, fmt.Errorf("workflow %s ended %s: %s", id, w.Status, w.ReasonForIncompletion)
	}
	fmt.Fprintf(out, "workflow %s %s, output %v\n", id, w.Status, w.Output)
	return id, nil
}

func register(ctx context.Context, apiClient *client.APIClient) error {
	conductor := executor.NewWorkflowExecutor(apiClient)
	var defs []model.TaskDef
	for _, name := range []string{managerTask, financeTask} {
		// No response timeout worth speaking of: people take their time.
		defs = append(defs, model.TaskDef{Name: name, OwnerEmail: "examples@example.com", RetryCount: 0, ResponseTimeoutSeconds: 3600})
	}
	if err := conductor.RegisterTaskDefsContext(ctx, defs...); err != nil {
		return fmt.Errorf("register task definitions: %w", err)
	}
	err := conductor.RegisterWorkflowContext(ctx, true, &model.WorkflowDef{
		Name: workflowName, Version: 1, SchemaVersion: 2, OwnerEmail: "examples@example.com",
		Tasks: []model.WorkflowTask{
			{Name: managerTask, TaskReferenceName: managerTask, Type: model.TaskTypeSimple,
				InputParameters: map[string]interface{}{"expense": "${workflow.input.expense}", "amount": "${workflow.input.amount}"}},
			{Name: financeTask, TaskReferenceName: financeTask, Type: model.TaskTypeSimple,
				InputParameters: map[string]interface{}{"amount": "${workflow.input.amount}", "managerApproved": "${manager_approval.output.approved}"}},
		},
		OutputParameters: map[string]interface{}{
			"manager": "${manager_approval.output.by}",
			"finance": "${finance_approval.output.by}",
		},
	})
	if err != nil {
		return fmt.Errorf("register workflow: %w", err)
	}
	return nil
}

// waitForTask returns the task of workflow id with reference name ref once
// the server has scheduled it.
func waitForTask(ctx context.Context, conductor *executor.WorkflowExecutor, id, ref string) (*model.Task, error) {
	for {
		w, err := conductor.GetWorkflowContext(ctx, id, true)
		if err != nil {
			return nil, err
		}
		for i := range w.Tasks {
			if w.Tasks[i].ReferenceTaskName == ref && !w.Tasks[i].Status.Terminal() {
				return &w.Tasks[i], nil
			}
		}
		if w.Status.Terminal() {
			return nil, fmt.Errorf("workflow %s ended %s before %s was scheduled", id, w.Status, ref)
		}
		if err := pause(ctx); err != nil {
			return nil, err
		}
	}
}

// waitForEnd returns the workflow once it has ended.
func waitForEnd(ctx context.Context, conductor *executor.WorkflowExecutor, id string) (*model.Workflow, error) {
	for {
		w, err := conductor.GetWorkflowContext(ctx, id, false)
		if err != nil {
			return nil, err
		}
		if w.Status.Terminal() {
			return w, nil
		}
		if err := pause(ctx); err != nil {
			return nil, err
		}
	}
}

func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(50 * time.Millisecond):
		return nil
	}
}
