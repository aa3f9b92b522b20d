// Package executor is where programs manage tasks, workflows and their
// definitions from outside a worker: start, wait for, search, pause,
// retry or end workflows, complete a task on a human's answer, register
// definitions. It keeps the names of the original Go SDK docs (GetTask,
// UpdateTask, UpdateTaskByRefName, StartWorkflow, ...; docs/migration.md
// maps the official SDK's calls). Each call has a context-first twin named
// with a Context suffix.
//
// sdk/client holds the connection (authentication, retries, errors) and
// the task API a worker uses; the workflow and metadata calls live here
// only, so there is one way to make each of them.
package executor

import (
	"context"
	"fmt"

	"github.com/baton-go/baton/internal/clientwire"
	"github.com/baton-go/baton/internal/wfapi"
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

// WorkflowExecutor manages tasks and workflows from outside a worker, e.g.
// to complete a task on a human's approval.
type WorkflowExecutor struct {
	c  *client.APIClient
	wf wfapi.Workflows
	md wfapi.Metadata
}

// NewWorkflowExecutor returns an executor using apiClient. With a nil
// apiClient every call returns an error saying so.
func NewWorkflowExecutor(apiClient *client.APIClient) *WorkflowExecutor {
	if apiClient == nil {
		apiClient = client.NewAPIClient(nil, nil)
	}
	return &WorkflowExecutor{c: apiClient, wf: clientwire.Workflows(apiClient), md: clientwire.Metadata(apiClient)}
}

// GetTask returns a task by id.
func (e *WorkflowExecutor) GetTask(taskId string) (*model.Task, error) {
	return e.GetTaskContext(context.Background(), taskId)
}

// GetTaskContext is GetTask with a context.
func (e *WorkflowExecutor) GetTaskContext(ctx context.Context, taskId string) (*model.Task, error) {
	return e.c.Tasks().GetTask(ctx, taskId)
}

// UpdateTask sets the status and output of a task by id. output must encode
// to a JSON object (a struct, a map, or nil).
func (e *WorkflowExecutor) UpdateTask(taskId, workflowInstanceId string, status model.TaskResultStatus, output interface{}) error {
	return e.UpdateTaskContext(context.Background(), taskId, workflowInstanceId, status, output)
}

// UpdateTaskContext is UpdateTask with a context.
func (e *WorkflowExecutor) UpdateTaskContext(ctx context.Context, taskId, workflowInstanceId string, status model.TaskResultStatus, output interface{}) error {
	out, _, err := model.OutputToMap(output)
	if err != nil {
		return fmt.Errorf("executor: output: %w", err)
	}
	return e.c.Tasks().UpdateTask(ctx, &model.TaskResult{
		TaskId:             taskId,
		WorkflowInstanceId: workflowInstanceId,
		Status:             status,
		OutputData:         out,
	})
}

// UpdateTaskByRefName sets the status of the running task with reference
// name taskRefName in the workflow, merging output into its output.
func (e *WorkflowExecutor) UpdateTaskByRefName(taskRefName, workflowInstanceId string, status model.TaskResultStatus, output interface{}) error {
	return e.UpdateTaskByRefNameContext(context.Background(), taskRefName, workflowInstanceId, status, output)
}

// UpdateTaskByRefNameContext is UpdateTaskByRefName with a context.
func (e *WorkflowExecutor) UpdateTaskByRefNameContext(ctx context.Context, taskRefName, workflowInstanceId string, status model.TaskResultStatus, output interface{}) error {
	_, err := e.c.Tasks().UpdateTaskByRefName(ctx, workflowInstanceId, taskRefName, status, output, "")
	return err
}

// StartWorkflow starts a workflow and returns its id.
func (e *WorkflowExecutor) StartWorkflow(req *model.StartWorkflowRequest) (string, error) {
	return e.StartWorkflowContext(context.Background(), req)
}

// StartWorkflowContext is StartWorkflow with a context.
func (e *WorkflowExecutor) StartWorkflowContext(ctx context.Context, req *model.StartWorkflowRequest) (string, error) {
	return e.wf.Start(ctx, req)
}

// GetWorkflow returns a workflow execution.
func (e *WorkflowExecutor) GetWorkflow(workflowId string, includeTasks bool) (*model.Workflow, error) {
	return e.GetWorkflowContext(context.Background(), workflowId, includeTasks)
}

// GetWorkflowContext is GetWorkflow with a context.
func (e *WorkflowExecutor) GetWorkflowContext(ctx context.Context, workflowId string, includeTasks bool) (*model.Workflow, error) {
	return e.wf.Get(ctx, workflowId, includeTasks)
}
