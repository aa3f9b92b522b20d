package executor

import (
	"context"
	"errors"

	"github.com/baton-go/baton/internal/wfapi"
	"github.com/baton-go/baton/sdk/model"
)

// The calls below keep the names of the official Go SDK's WorkflowExecutor
// where it has them (docs/migration.md maps each one), each with a
// context-first twin.

// StartResult is the outcome of one start of StartWorkflows: the workflow
// id, or the error that kept it from starting.
type StartResult = wfapi.StartResult

// ExecuteOptions tune ExecuteWorkflowOnServer: the tasks to wait for, how
// long the server waits, the request id it echoes.
type ExecuteOptions = wfapi.ExecuteOptions

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
		return e.md.UpdateWorkflowDefs(ctx, *def)
	}
	return e.md.RegisterWorkflowDef(ctx, def)
}

// UnRegisterWorkflow removes the definition name, version.
func (e *WorkflowExecutor) UnRegisterWorkflow(name string, version int) error {
	return e.UnRegisterWorkflowContext(context.Background(), name, version)
}

// UnRegisterWorkflowContext is UnRegisterWorkflow with a context.
func (e *WorkflowExecutor) UnRegisterWorkflowContext(ctx context.Context, name string, version int) error {
	return e.md.DeleteWorkflowDef(ctx, name, version)
}

// StartWorkflows starts each request (four at a time) and returns one
// result per request, in order.
func (e *WorkflowExecutor) StartWorkflows(reqs ...*model.StartWorkflowRequest) []StartResult {
	return e.StartWorkflowsContext(context.Background(), reqs...)
}

// StartWorkflowsContext is StartWorkflows with a context.
func (e *WorkflowExecutor) StartWorkflowsContext(ctx context.Context, reqs ...*model.StartWorkflowRequest) []StartResult {
	return e.wf.StartMany(ctx, reqs, 0)
}

// ExecuteWorkflow starts a workflow and waits until it has finished, or
// until the task waitUntilTask (if not empty) has, and returns it with its
// tasks. It waits from the client, so it works on every server version;
// ExecuteWorkflowContext bounds the wait with a context.
func (e *WorkflowExecutor) ExecuteWorkflow(req *model.StartWorkflowRequest, waitUntilTask string) (*model.Workflow, error) {
	return e.ExecuteWorkflowContext(context.Background(), req, waitUntilTask)
}

// ExecuteWorkflowContext is ExecuteWorkflow with a context. When ctx ends
// first it returns the workflow as last seen (nil if never) with an error
// wrapping ctx.Err(); the workflow goes on running on the server.
func (e *WorkflowExecutor) ExecuteWorkflowContext(ctx context.Context, req *model.StartWorkflowRequest, waitUntilTask string) (*model.Workflow, error) {
	return e.wf.StartAndWait(ctx, req, wfapi.WaitOptions{UntilTaskRef: waitUntilTask})
}

// GetByCorrelationIds returns, for each correlation id, the executions of
// workflow name started with it.
func (e *WorkflowExecutor) GetByCorrelationIds(name string, includeClosed, includeTasks bool, correlationIds ...string) (map[string][]model.Workflow, error) {
	return e.GetByCorrelationIdsContext(context.Background(), name, includeClosed, includeTasks, correlationIds...)
}

// GetByCorrelationIdsContext is GetByCorrelationIds with a context.
func (e *WorkflowExecutor) GetByCorrelationIdsContext(ctx context.Context, name string, includeClosed, includeTasks bool, correlationIds ...string) (map[string][]model.Workflow, error) {
	return e.wf.ByCorrelationIDs(ctx, name, correlationIds,
		wfapi.CorrelationQuery{IncludeClosed: includeClosed, IncludeTasks: includeTasks})
}

// Search returns a page of the workflows matching query and freeText; a
// server without indexing finds none.
func (e *WorkflowExecutor) Search(start, size int, query, freeText string) ([]model.WorkflowSummary, error) {
	return e.SearchContext(context.Background(), start, size, query, freeText)
}

// SearchContext is Search with a context.
func (e *WorkflowExecutor) SearchContext(ctx context.Context, start, size int, query, freeText string) ([]model.WorkflowSummary, error) {
	r, err := e.wf.Search(ctx, wfapi.SearchQuery{Start: start, Size: size, Query: query, FreeText: freeText})
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
	return e.wf.Pause(ctx, workflowId)
}

// Resume resumes a paused workflow.
func (e *WorkflowExecutor) Resume(workflowId string) error {
	return e.ResumeContext(context.Background(), workflowId)
}

// ResumeContext is Resume with a context.
func (e *WorkflowExecutor) ResumeContext(ctx context.Context, workflowId string) error {
	return e.wf.Resume(ctx, workflowId)
}

// Terminate ends a running workflow with reason.
func (e *WorkflowExecutor) Terminate(workflowId, reason string) error {
	return e.TerminateContext(context.Background(), workflowId, reason)
}

// TerminateContext is Terminate with a context.
func (e *WorkflowExecutor) TerminateContext(ctx context.Context, workflowId, reason string) error {
	return e.wf.Terminate(ctx, workflowId, reason)
}

// Restart runs a finished workflow again from the start.
func (e *WorkflowExecutor) Restart(workflowId string, useLatestDefinition bool) error {
	return e.RestartContext(context.Background(), workflowId, useLatestDefinition)
}

// RestartContext is Restart with a context.
func (e *WorkflowExecutor) RestartContext(ctx context.Context, workflowId string, useLatestDefinition bool) error {
	return e.wf.Restart(ctx, workflowId, useLatestDefinition)
}

// Retry retries the last failed task of a failed workflow.
func (e *WorkflowExecutor) Retry(workflowId string, resumeSubworkflowTasks bool) error {
	return e.RetryContext(context.Background(), workflowId, resumeSubworkflowTasks)
}

// RetryContext is Retry with a context.
func (e *WorkflowExecutor) RetryContext(ctx context.Context, workflowId string, resumeSubworkflowTasks bool) error {
	return e.wf.Retry(ctx, workflowId, resumeSubworkflowTasks)
}

// ReRun runs a workflow again from a given task and returns its id.
func (e *WorkflowExecutor) ReRun(workflowId string, req model.RerunWorkflowRequest) (string, error) {
	return e.ReRunContext(context.Background(), workflowId, req)
}

// ReRunContext is ReRun with a context.
func (e *WorkflowExecutor) ReRunContext(ctx context.Context, workflowId string, req model.RerunWorkflowRequest) (string, error) {
	return e.wf.Rerun(ctx, workflowId, req)
}

// SkipTasksFromWorkflow skips the task taskReferenceName of a running
// workflow.
func (e *WorkflowExecutor) SkipTasksFromWorkflow(workflowId, taskReferenceName string) error {
	return e.SkipTasksFromWorkflowContext(context.Background(), workflowId, taskReferenceName)
}

// SkipTasksFromWorkflowContext is SkipTasksFromWorkflow with a context.
func (e *WorkflowExecutor) SkipTasksFromWorkflowContext(ctx context.Context, workflowId, taskReferenceName string) error {
	return e.wf.SkipTask(ctx, workflowId, taskReferenceName)
}

// RemoveWorkflow deletes a workflow execution from the server.
func (e *WorkflowExecutor) RemoveWorkflow(workflowId string) error {
	return e.RemoveWorkflowContext(context.Background(), workflowId)
}

// RemoveWorkflowContext is RemoveWorkflow with a context.
func (e *WorkflowExecutor) RemoveWorkflowContext(ctx context.Context, workflowId string) error {
	return e.wf.Delete(ctx, workflowId)
}

// WaitForWorkflow waits until the workflow workflowId has finished, or
// until its task waitUntilTask (if not empty) has, looking at it every
// 200 ms, and returns it with its tasks.
func (e *WorkflowExecutor) WaitForWorkflow(workflowId, waitUntilTask string) (*model.Workflow, error) {
	return e.WaitForWorkflowContext(context.Background(), workflowId, waitUntilTask)
}

// WaitForWorkflowContext is WaitForWorkflow with a context; it ends as
// ExecuteWorkflowContext does when ctx ends first.
func (e *WorkflowExecutor) WaitForWorkflowContext(ctx context.Context, workflowId, waitUntilTask string) (*model.Workflow, error) {
	return e.wf.Wait(ctx, workflowId, wfapi.WaitOptions{UntilTaskRef: waitUntilTask})
}

// ExecuteWorkflowOnServer starts a workflow and lets the server wait for
// it: the answer comes when the workflow has finished, is blocked at a WAIT
// task or at one of opts.WaitUntilTaskRefs, or when opts.WaitFor has passed
// (SignalTimeout set). The endpoint exists from Conductor 3.21.23 on (3.32.3
// has it); on older servers such as 3.21.14 nothing is started and the
// error matches client.ErrNotSupported: ExecuteWorkflow then does the same
// from the client.
func (e *WorkflowExecutor) ExecuteWorkflowOnServer(req *model.StartWorkflowRequest, opts ExecuteOptions) (*model.SignalResponse, error) {
	return e.ExecuteWorkflowOnServerContext(context.Background(), req, opts)
}

// ExecuteWorkflowOnServerContext is ExecuteWorkflowOnServer with a context.
func (e *WorkflowExecutor) ExecuteWorkflowOnServerContext(ctx context.Context, req *model.StartWorkflowRequest, opts ExecuteOptions) (*model.SignalResponse, error) {
	return e.wf.Execute(ctx, req, opts)
}

// GetRunningWorkflows returns the ids of the running workflows named name
// (version 0: every version).
func (e *WorkflowExecutor) GetRunningWorkflows(name string, version int) ([]string, error) {
	return e.GetRunningWorkflowsContext(context.Background(), name, version)
}

// GetRunningWorkflowsContext is GetRunningWorkflows with a context.
func (e *WorkflowExecutor) GetRunningWorkflowsContext(ctx context.Context, name string, version int) ([]string, error) {
	return e.wf.Running(ctx, name, version)
}

// SearchWorkflows returns one page of a workflow search with its total
// number of hits; a server without indexing finds none.
func (e *WorkflowExecutor) SearchWorkflows(start, size int, query, freeText, sort string) (*model.WorkflowSearchResult, error) {
	return e.SearchWorkflowsContext(context.Background(), start, size, query, freeText, sort)
}

// SearchWorkflowsContext is SearchWorkflows with a context.
func (e *WorkflowExecutor) SearchWorkflowsContext(ctx context.Context, start, size int, query, freeText, sort string) (*model.WorkflowSearchResult, error) {
	return e.wf.Search(ctx, wfapi.SearchQuery{Start: start, Size: size, Query: query, FreeText: freeText, Sort: sort})
}

// RegisterTaskDefs creates or replaces task definitions.
func (e *WorkflowExecutor) RegisterTaskDefs(defs ...model.TaskDef) error {
	return e.RegisterTaskDefsContext(context.Background(), defs...)
}

// RegisterTaskDefsContext is RegisterTaskDefs with a context.
func (e *WorkflowExecutor) RegisterTaskDefsContext(ctx context.Context, defs ...model.TaskDef) error {
	return e.md.RegisterTaskDefs(ctx, defs...)
}

// UpdateTaskDef replaces an existing task definition; the error matches
// client.ErrNotFound when there is none of that name.
func (e *WorkflowExecutor) UpdateTaskDef(def model.TaskDef) error {
	return e.UpdateTaskDefContext(context.Background(), def)
}

// UpdateTaskDefContext is UpdateTaskDef with a context.
func (e *WorkflowExecutor) UpdateTaskDefContext(ctx context.Context, def model.TaskDef) error {
	return e.md.UpdateTaskDef(ctx, def)
}

// GetTaskDef returns a task definition; the error matches
// client.ErrNotFound when there is none of that name.
func (e *WorkflowExecutor) GetTaskDef(name string) (*model.TaskDef, error) {
	return e.GetTaskDefContext(context.Background(), name)
}

// GetTaskDefContext is GetTaskDef with a context.
func (e *WorkflowExecutor) GetTaskDefContext(ctx context.Context, name string) (*model.TaskDef, error) {
	return e.md.GetTaskDef(ctx, name)
}

// GetWorkflowDef returns a workflow definition (version 0: the latest).
func (e *WorkflowExecutor) GetWorkflowDef(name string, version int) (*model.WorkflowDef, error) {
	return e.GetWorkflowDefContext(context.Background(), name, version)
}

// GetWorkflowDefContext is GetWorkflowDef with a context.
func (e *WorkflowExecutor) GetWorkflowDefContext(ctx context.Context, name string, version int) (*model.WorkflowDef, error) {
	return e.md.GetWorkflowDef(ctx, name, version)
}
