package model

// RerunWorkflowRequest says where a rerun starts: from the task
// ReRunFromTaskId (empty = from the beginning), with new workflow and task
// input when given.
type RerunWorkflowRequest struct {
	ReRunFromWorkflowId string                 `json:"reRunFromWorkflowId,omitempty"`
	WorkflowInput       map[string]interface{} `json:"workflowInput,omitempty"`
	ReRunFromTaskId     string                 `json:"reRunFromTaskId,omitempty"`
	TaskInput           map[string]interface{} `json:"taskInput,omitempty"`
	CorrelationId       string                 `json:"correlationId,omitempty"`
}

// WorkflowSummary is one hit of a workflow search.
type WorkflowSummary struct {
	WorkflowType             string         `json:"workflowType"`
	Version                  int            `json:"version"`
	WorkflowId               string         `json:"workflowId"`
	CorrelationId            string         `json:"correlationId,omitempty"`
	StartTime                string         `json:"startTime,omitempty"`
	UpdateTime               string         `json:"updateTime,omitempty"`
	EndTime                  string         `json:"endTime,omitempty"`
	Status                   WorkflowStatus `json:"status"`
	Input                    string         `json:"input,omitempty"`
	Output                   string         `json:"output,omitempty"`
	ReasonForIncompletion    string         `json:"reasonForIncompletion,omitempty"`
	ExecutionTime            int64          `json:"executionTime,omitempty"`
	Event                    string         `json:"event,omitempty"`
	FailedReferenceTaskNames string         `json:"failedReferenceTaskNames,omitempty"`
	Priority                 int            `json:"priority,omitempty"`
	InputSize                int64          `json:"inputSize,omitempty"`
	OutputSize               int64          `json:"outputSize,omitempty"`
}

// WorkflowSearchResult is a page of a workflow search: TotalHits matches in
// all, Results this page of them.
type WorkflowSearchResult struct {
	TotalHits int64             `json:"totalHits"`
	Results   []WorkflowSummary `json:"results"`
}

// SignalResponse is the answer of the synchronous execute endpoint
// (Conductor 3.21.23 and later): the workflow as it stood when it finished,
// blocked at a WAIT task or at one of the awaited tasks, or when the wait
// ran out (SignalTimeout).
type SignalResponse struct {
	ResponseType         string                 `json:"responseType,omitempty"`
	TargetWorkflowId     string                 `json:"targetWorkflowId,omitempty"`
	TargetWorkflowStatus WorkflowStatus         `json:"targetWorkflowStatus,omitempty"`
	RequestId            string                 `json:"requestId,omitempty"`
	WorkflowId           string                 `json:"workflowId,omitempty"`
	CorrelationId        string                 `json:"correlationId,omitempty"`
	Input                map[string]interface{} `json:"input,omitempty"`
	Output               map[string]interface{} `json:"output,omitempty"`
	SignalTimeout        bool                   `json:"signalTimeout,omitempty"`
	// Status and Tasks are filled for the TARGET_WORKFLOW and
	// BLOCKING_WORKFLOW strategies, which answer with the workflow itself.
	Status WorkflowStatus `json:"status,omitempty"`
	Tasks  []Task         `json:"tasks,omitempty"`
}
