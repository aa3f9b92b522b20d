// Package wfapi describes the workflow and metadata calls of an
// *client.APIClient for the SDK's packages that expose them to users
// (sdk/workflow/executor, sdk/taskdef). sdk/client implements them on
// unexported types and hands them over through internal/clientwire, so
// that one public type, executor.WorkflowExecutor, carries workflow
// management and sdk/client keeps to the connection and the task API.
package wfapi

import (
	"context"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// Workflows is the workflow API of a client. Calls that change a workflow
// are resent only when the request cannot have reached the server; reads
// are resent freely.
type Workflows interface {
	Start(ctx context.Context, req *model.StartWorkflowRequest) (string, error)
	StartMany(ctx context.Context, reqs []*model.StartWorkflowRequest, parallel int) []StartResult
	StartAndWait(ctx context.Context, req *model.StartWorkflowRequest, o WaitOptions) (*model.Workflow, error)
	Wait(ctx context.Context, workflowID string, o WaitOptions) (*model.Workflow, error)
	Execute(ctx context.Context, req *model.StartWorkflowRequest, o ExecuteOptions) (*model.SignalResponse, error)
	Get(ctx context.Context, workflowID string, includeTasks bool) (*model.Workflow, error)
	Running(ctx context.Context, name string, version int) ([]string, error)
	ByCorrelationIDs(ctx context.Context, name string, correlationIDs []string, q CorrelationQuery) (map[string][]model.Workflow, error)
	Search(ctx context.Context, q SearchQuery) (*model.WorkflowSearchResult, error)
	Pause(ctx context.Context, workflowID string) error
	Resume(ctx context.Context, workflowID string) error
	Terminate(ctx context.Context, workflowID, reason string) error
	Restart(ctx context.Context, workflowID string, useLatestDefinitions bool) error
	Retry(ctx context.Context, workflowID string, resumeSubworkflowTasks bool) error
	Rerun(ctx context.Context, workflowID string, req model.RerunWorkflowRequest) (string, error)
	SkipTask(ctx context.Context, workflowID, taskRefName string) error
	Delete(ctx context.Context, workflowID string) error
}

// Metadata is the metadata API of a client: task and workflow definitions.
type Metadata interface {
	RegisterTaskDefs(ctx context.Context, defs ...model.TaskDef) error
	UpdateTaskDef(ctx context.Context, def model.TaskDef) error
	GetTaskDef(ctx context.Context, name string) (*model.TaskDef, error)
	RegisterWorkflowDef(ctx context.Context, def *model.WorkflowDef) error
	UpdateWorkflowDefs(ctx context.Context, defs ...model.WorkflowDef) error
	GetWorkflowDef(ctx context.Context, name string, version int) (*model.WorkflowDef, error)
	DeleteWorkflowDef(ctx context.Context, name string, version int) error
}

// StartResult is the outcome of one start of a batch: the workflow's id, or
// the error that kept it from starting.
type StartResult struct {
	WorkflowID string
	Err        error
}

// CorrelationQuery picks what the correlation-id look-up returns: finished
// workflows too, and each workflow's tasks.
type CorrelationQuery struct {
	IncludeClosed bool
	IncludeTasks  bool
}

// SearchQuery is one page of a workflow search.
type SearchQuery struct {
	// Query is the structured filter, e.g. `workflowType IN (orders)`.
	Query string
	// FreeText matches anywhere ("*" or empty: everything).
	FreeText string
	// Sort is "field:ASC" or "field:DESC".
	Sort string
	// Start and Size page through the hits (server default size when 0).
	Start, Size int
}

// WaitOptions tune a wait for a workflow from the client.
type WaitOptions struct {
	// UntilTaskRef ends the wait once the task with this reference name
	// has finished, even if the workflow goes on.
	UntilTaskRef string
	// Every is the time between two looks at the workflow (default 200 ms).
	Every time.Duration
}

// ExecuteOptions tune a start that the server waits on
// (POST /workflow/execute/{name}/{version}).
type ExecuteOptions struct {
	// WaitUntilTaskRefs makes the server answer once one of these tasks
	// has finished.
	WaitUntilTaskRefs []string
	// WaitFor is how long the server waits before it answers with the
	// workflow as it stands (whole seconds; 0 = the server's 10 s).
	WaitFor time.Duration
	// RequestID is echoed in the answer (the server makes one up if empty).
	RequestID string
}
