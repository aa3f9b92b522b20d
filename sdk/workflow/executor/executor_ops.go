package executor

import (
	"context"
	"errors"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

// The calls below keep the names of the official Go SDK's WorkflowExecutor
// (docs/migration.md maps each one). Each is a thin wrapper over
// client.WorkflowClient or client.MetadataClient, with a context-first twin.

// RegisterWorkflow registers def; with overwrite an existing definition of
// the same name and version is replaced, without it that is an error
// matching client.ErrConflict.
func (e *WorkflowExecutor) RegisterWorkflow(overwrite bool, def *model.WorkflowDef) error {
	return e.RegisterWorkflowContext(context.Background(), overwrite, def)
}

// RegisterWorkflowContext is RegisterWorkflow with a context.
func (e *WorkflowExecutor) RegisterWorkflowContext(ctx context.Context, overwrite bool, def *model.WorkflowDef) error {
	if def == nil {
		return errors.New("executor: RegisterWorkflow needs a definition")
	}
	if overwrite {
		return e.c.Metadata().UpdateWorkflowDefs(ctx, *def)
	}
	return e.c.Metadata().RegisterWorkflowDef(ctx, def)
}

// UnRegisterWorkflow removes the definition name, version.
func (e *WorkflowExecutor) UnRegisterWorkflow(name string, version int) error {
	return e.UnRegisterWorkflowContext(context.Background(), name, version)
}

// UnRegisterWorkflowContext is UnRegisterWorkflow with a context.
func (e *WorkflowExecutor) UnRegisterWorkflowContext(ctx context.Context, name string, version int) error {
	return e.c.Metadata().DeleteWorkflowDef(ctx, name, version)
}

// StartWorkflows starts each request (four at a time) and returns one
// result per request, in order.
func (e *WorkflowExecutor) StartWorkflows(reqs ...*model.StartWorkflowRequest) []client.StartResult {
	return e.StartWorkflowsContext(context.Background(), reqs...)
}

// StartWorkflowsContext is StartWorkflows with a context.
func (e *WorkflowExecutor) StartWorkflowsContext(ctx context.Context, reqs ...*model.StartWorkflowRequest) []client.StartResult {
	return e.c.Workflows().StartMany(ctx, reqs, 0)
}

// ExecuteWorkflow starts a workflow and waits until it has finished, or
// until the task waitUntilTask (if not empty) has, and returns it with its
// tasks. It waits from the client, so it works on every server version;
// ExecuteWorkflowContext bounds the wait with a context.
func (e *WorkflowExecutor) ExecuteWorkflow(req *model.StartWorkflowRequest, waitUntilTask string) (*model.Workflow, error) {
	return e.ExecuteWorkflowContext(context.Background(), req, waitUntilTask)
}

// ExecuteWorkflowContext is ExecuteWorkflow with a context; see
// client.WorkflowClient.StartAndWait for what happens when ctx ends first.
func (e *WorkflowExecutor) ExecuteWorkflowContext(ctx context.Context, req *model.StartWorkflowRequest, waitUntilTask string) (*model.Workflow, error) {
	return e.c.Workflows().StartAndWait(ctx, req, client.WaitOptions{UntilTaskRef: waitUntilTask})
}

// GetByCorrelationIds returns, for each correlation id, the executions of
// workflow name started with it.
func (e *WorkflowExecutor) GetByCorrelationIds(name string, includeClosed, includeTasks bool, correlationIds ...string) (map[string][]model.Workflow, error) {
	return e.GetByCorrelationIdsContext(context.Background(), name, includeClosed, includeTasks, correlationIds...)
}

// GetByCorrelationIdsContext is GetByCorrelationIds with a context.
func (e *WorkflowExecutor) GetByCorrelationIdsContext(ctx context.Context, name string, includeClosed, includeTasks bool, correlationIds ...string) (map[string][]model.Workflow, error) {
	return e.c.Workflows().ByCorrelationIDs(ctx, name, correlationIds,
		client.CorrelationQuery{IncludeClosed: includeClosed, IncludeTasks: includeTasks})
}

// Search returns a page of the workflows matching query and freeText; a
// server without indexing finds none.
func (e *WorkflowExecutor) Search(start, size int, query, freeText string) ([]model.WorkflowSummary, error) {
	return e.SearchContext(context.Background(), start, size, query, freeText)
}

// SearchContext is Search with a context.
func (e *WorkflowExecutor) SearchContext(ctx context.Context, start, size int, query, freeText string) ([]model.WorkflowSummary, error) {
	r, err := e.c.Workflows().Search(ctx, client.SearchQuery{Start: start, Size: size, Query: query, FreeText: freeText})
	if err != nil {
		return nil, err
	}
	return r.Results, nil
}

// Pause pauses a running workflow.
func (e *WorkflowExecutor) Pause(workflowId string) error {
	return e.PauseContext(context.Background(), workflowId)
}

// PauseContext is Pause with a context.
func (e *WorkflowExecutor) PauseContext(ctx context.Context, workflowId string) error {
	return e.c.Workflows().Pause(ctx, workflowId)
}

// Resume resumes a paused workflow.
func (e *WorkflowExecutor) Resume(workflowId string) error {
	return e.ResumeContext(context.Background(), workflowId)
}

// ResumeContext is Resume with a context.
func (e *WorkflowExecutor) ResumeContext(ctx context.Context, workflowId string) error {
	return e.c.Workflows().Resume(ctx, workflowId)
}

// Terminate ends a running workflow with reason.
func (e *WorkflowExecutor) Terminate(workflowId, reason string) error {
	return e.TerminateContext(context.Background(), workflowId, reason)
}

// TerminateContext is Terminate with a context.
func (e *WorkflowExecutor) TerminateContext(ctx context.Context, workflowId, reason string) error {
	return e.c.Workflows().Terminate(ctx, workflowId, reason)
}

// Restart runs a finished workflow again from the start.
func (e *WorkflowExecutor) Restart(workflowId string, useLatestDefinition bool) error {
	return e.RestartContext(context.Background(), workflowId, useLatestDefinition)
}

// RestartContext is Restart with a context.
func (e *WorkflowExecutor) RestartContext(ctx context.Context, workflowId string, useLatestDefinition bool) error {
	return e.c.Workflows().Restart(ctx, workflowId, useLatestDefinition)
}

// Retry retries the last failed task of a failed workflow.
func (e *WorkflowExecutor) Retry(workflowId string, resumeSubworkflowTasks bool) error {
	return e.RetryContext(context.Background(), workflowId, resumeSubworkflowTasks)
}

// RetryContext is Retry with a context.
func (e *WorkflowExecutor) RetryContext(ctx context.Context, workflowId string, resumeSubworkflowTasks bool) error {
	return e.c.Workflows().Retry(ctx, workflowId, resumeSubworkflowTasks)
}

// ReRun runs a workflow again from a given task and returns its id.
func (e *WorkflowExecutor) ReRun(workflowId string, req model.RerunWorkflowRequest) (string, error) {
	return e.ReRunContext(context.Background(), workflowId, req)
}

// ReRunContext is ReRun with a context.
func (e *WorkflowExecutor) ReRunContext(ctx context.Context, workflowId string, req model.RerunWorkflowRequest) (string, error) {
	return e.c.Workflows().Rerun(ctx, workflowId, req)
}

// SkipTasksFromWorkflow skips the task taskReferenceName of a running
// workflow.
func (e *WorkflowExecutor) SkipTasksFromWorkflow(workflowId, taskReferenceName string) error {
	return e.SkipTasksFromWorkflowContext(context.Background(), workflowId, taskReferenceName)
}

// SkipTasksFromWorkflowContext is SkipTasksFromWorkflow with a context.
func (e *WorkflowExecutor) SkipTasksFromWorkflowContext(ctx context.Context, workflowId, taskReferenceName string) error {
	return e.c.Workflows().SkipTask(ctx, workflowId, taskReferenceName)
}

// RemoveWorkflow deletes a workflow execution from the server.
func (e *WorkflowExecutor) RemoveWorkflow(workflowId string) error {
	return e.RemoveWorkflowContext(context.Background(), workflowId)
}

// RemoveWorkflowContext is RemoveWorkflow with a context.
func (e *WorkflowExecutor) RemoveWorkflowContext(ctx context.Context, workflowId string) error {
	return e.c.Workflows().Delete(ctx, workflowId)
}
