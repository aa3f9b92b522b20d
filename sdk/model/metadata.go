package model

// TaskDef is the definition of a task type. Zero values of the fields marked
// omitempty are left out so that the server applies its own defaults; the
// others are always sent because zero is a meaningful value for them.
type TaskDef struct {
	Name                        string                 `json:"name"`
	Description                 string                 `json:"description,omitempty"`
	RetryCount                  int                    `json:"retryCount"`
	TimeoutSeconds              int64                  `json:"timeoutSeconds"`
	InputKeys                   []string               `json:"inputKeys,omitempty"`
	OutputKeys                  []string               `json:"outputKeys,omitempty"`
	TimeoutPolicy               string                 `json:"timeoutPolicy,omitempty"`
	RetryLogic                  string                 `json:"retryLogic,omitempty"`
	RetryDelaySeconds           int                    `json:"retryDelaySeconds"`
	ResponseTimeoutSeconds      int64                  `json:"responseTimeoutSeconds,omitempty"`
	ConcurrentExecLimit         int                    `json:"concurrentExecLimit,omitempty"`
	InputTemplate               map[string]interface{} `json:"inputTemplate,omitempty"`
	RateLimitPerFrequency       int                    `json:"rateLimitPerFrequency,omitempty"`
	RateLimitFrequencyInSeconds int                    `json:"rateLimitFrequencyInSeconds,omitempty"`
	IsolationGroupId            string                 `json:"isolationGroupId,omitempty"`
	ExecutionNameSpace          string                 `json:"executionNameSpace,omitempty"`
	OwnerEmail                  string                 `json:"ownerEmail,omitempty"`
	PollTimeoutSeconds          int                    `json:"pollTimeoutSeconds,omitempty"`
	BackoffScaleFactor          int                    `json:"backoffScaleFactor,omitempty"`
	BaseType                    string                 `json:"baseType,omitempty"`
	TotalTimeoutSeconds         int64                  `json:"totalTimeoutSeconds,omitempty"`
	OwnerApp                    string                 `json:"ownerApp,omitempty"`
	CreateTime                  int64                  `json:"createTime,omitempty"`
	UpdateTime                  int64                  `json:"updateTime,omitempty"`
	CreatedBy                   string                 `json:"createdBy,omitempty"`
	UpdatedBy                   string                 `json:"updatedBy,omitempty"`
	InputSchema                 *SchemaDef             `json:"inputSchema,omitempty"`
	OutputSchema                *SchemaDef             `json:"outputSchema,omitempty"`
	EnforceSchema               bool                   `json:"enforceSchema,omitempty"`
}

// SchemaDef is a schema attached to a task definition (Conductor 3.x
// SchemaDef): Type "JSON" with the JSON Schema in Data, or a reference to a
// schema registry in ExternalRef.
type SchemaDef struct {
	Name        string                 `json:"name"`
	Version     int                    `json:"version"`
	Type        string                 `json:"type"`
	Data        map[string]interface{} `json:"data,omitempty"`
	ExternalRef string                 `json:"externalRef,omitempty"`
}

// Retry logic values for TaskDef.RetryLogic.
const (
	RetryFixed              = "FIXED"
	RetryExponentialBackoff = "EXPONENTIAL_BACKOFF"
	RetryLinearBackoff      = "LINEAR_BACKOFF"
)

// Timeout policy values for TaskDef.TimeoutPolicy and WorkflowDef.TimeoutPolicy.
const (
	TimeoutPolicyRetry     = "RETRY"
	TimeoutPolicyTimeOutWF = "TIME_OUT_WF"
	TimeoutPolicyAlertOnly = "ALERT_ONLY"
)

// WorkflowTask is one step of a workflow definition.
type WorkflowTask struct {
	Name              string                 `json:"name"`
	TaskReferenceName string                 `json:"taskReferenceName"`
	Type              string                 `json:"type,omitempty"`
	Description       string                 `json:"description,omitempty"`
	InputParameters   map[string]interface{} `json:"inputParameters,omitempty"`
	StartDelay        int                    `json:"startDelay,omitempty"`
	Optional          bool                   `json:"optional,omitempty"`
	RetryCount        *int                   `json:"retryCount,omitempty"`
	TaskDefinition    *TaskDef               `json:"taskDefinition,omitempty"`
	AsyncComplete     bool                   `json:"asyncComplete,omitempty"`
	RateLimited       bool                   `json:"rateLimited,omitempty"`

	// The fields below configure the system task types (SWITCH, FORK_JOIN,
	// DO_WHILE, SUB_WORKFLOW, ...); sdk/workflow fills them. All are left
	// out of the JSON when zero.

	// DynamicTaskNameParam names the input parameter holding the task name
	// a DYNAMIC task runs.
	DynamicTaskNameParam string `json:"dynamicTaskNameParam,omitempty"`
	// CaseValueParam and CaseExpression are the DECISION task's (pre-SWITCH)
	// way to pick a case.
	CaseValueParam string `json:"caseValueParam,omitempty"`
	CaseExpression string `json:"caseExpression,omitempty"`
	// ScriptExpression is the DECISION task's JavaScript case expression.
	ScriptExpression string `json:"scriptExpression,omitempty"`
	// DecisionCases and DefaultCase are a SWITCH task's branches.
	DecisionCases map[string][]WorkflowTask `json:"decisionCases,omitempty"`
	DefaultCase   []WorkflowTask            `json:"defaultCase,omitempty"`
	// EvaluatorType ("value-param", "javascript", "graaljs") and Expression
	// choose a SWITCH task's case.
	EvaluatorType string `json:"evaluatorType,omitempty"`
	Expression    string `json:"expression,omitempty"`
	// DynamicForkTasksParam and DynamicForkTasksInputParamName name the
	// input parameters holding a FORK_JOIN_DYNAMIC task's branches and their
	// inputs.
	DynamicForkTasksParam          string `json:"dynamicForkTasksParam,omitempty"`
	DynamicForkTasksInputParamName string `json:"dynamicForkTasksInputParamName,omitempty"`
	// ForkTasks are a FORK_JOIN task's branches, each a sequence of tasks.
	ForkTasks [][]WorkflowTask `json:"forkTasks,omitempty"`
	// JoinOn lists the task reference names a JOIN task waits for.
	JoinOn []string `json:"joinOn,omitempty"`
	// DefaultExclusiveJoinTask is an EXCLUSIVE_JOIN task's fallback.
	DefaultExclusiveJoinTask []string `json:"defaultExclusiveJoinTask,omitempty"`
	// SubWorkflowParam says which workflow a SUB_WORKFLOW task starts.
	SubWorkflowParam *SubWorkflowParams `json:"subWorkflowParam,omitempty"`
	// Sink is an EVENT task's destination, e.g. "conductor:name".
	Sink string `json:"sink,omitempty"`
	// LoopCondition and LoopOver are a DO_WHILE task's condition and body.
	LoopCondition string         `json:"loopCondition,omitempty"`
	LoopOver      []WorkflowTask `json:"loopOver,omitempty"`
	// CacheConfig is accepted and kept by Conductor OSS 3.21 and 3.32,
	// which do not act on it (Orkes caches task outputs by it).
	CacheConfig *CacheConfig `json:"cacheConfig,omitempty"`
}

// CacheConfig is a task's output cache setting: the cache key (an
// expression over the input) and how long an output is kept.
type CacheConfig struct {
	Key         string `json:"key"`
	TtlInSecond int    `json:"ttlInSecond"`
}

// SubWorkflowParams names the workflow a SUB_WORKFLOW task starts: a
// registered one by Name and Version (0 = latest), or the definition itself
// in WorkflowDefinition.
type SubWorkflowParams struct {
	Name               string            `json:"name"`
	Version            int               `json:"version,omitempty"`
	TaskToDomain       map[string]string `json:"taskToDomain,omitempty"`
	WorkflowDefinition *WorkflowDef      `json:"workflowDefinition,omitempty"`
}

// TaskTypeSimple is the type of a task executed by a worker.
const TaskTypeSimple = "SIMPLE"

// WorkflowDef is the definition of a workflow.
type WorkflowDef struct {
	Name             string                 `json:"name"`
	Description      string                 `json:"description,omitempty"`
	Version          int                    `json:"version,omitempty"`
	Tasks            []WorkflowTask         `json:"tasks"`
	InputParameters  []string               `json:"inputParameters,omitempty"`
	OutputParameters map[string]interface{} `json:"outputParameters,omitempty"`
	FailureWorkflow  string                 `json:"failureWorkflow,omitempty"`
	SchemaVersion    int                    `json:"schemaVersion,omitempty"`
	Restartable      bool                   `json:"restartable,omitempty"`
	OwnerEmail       string                 `json:"ownerEmail,omitempty"`
	TimeoutPolicy    string                 `json:"timeoutPolicy,omitempty"`
	TimeoutSeconds   int64                  `json:"timeoutSeconds"`
	Variables        map[string]interface{} `json:"variables,omitempty"`
	// InputTemplate holds default values of the workflow's input.
	InputTemplate map[string]interface{} `json:"inputTemplate,omitempty"`
	// WorkflowStatusListenerEnabled asks the server to notify its workflow
	// status listener of this workflow's completion or failure.
	WorkflowStatusListenerEnabled bool  `json:"workflowStatusListenerEnabled,omitempty"`
	CreateTime                    int64 `json:"createTime,omitempty"`
	UpdateTime                    int64 `json:"updateTime,omitempty"`
	// CreatedBy, UpdatedBy and OwnerApp are filled in by the server.
	CreatedBy string `json:"createdBy,omitempty"`
	UpdatedBy string `json:"updatedBy,omitempty"`
	OwnerApp  string `json:"ownerApp,omitempty"`
}

// StartWorkflowRequest starts a workflow execution.
type StartWorkflowRequest struct {
	Name          string                 `json:"name"`
	Version       int                    `json:"version,omitempty"`
	CorrelationId string                 `json:"correlationId,omitempty"`
	Input         map[string]interface{} `json:"input"`
	TaskToDomain  map[string]string      `json:"taskToDomain,omitempty"`
	WorkflowDef   *WorkflowDef           `json:"workflowDef,omitempty"`
	Priority      int                    `json:"priority,omitempty"`
	// ExternalInputPayloadStoragePath names an input already uploaded to the
	// server's external payload storage (Input is then empty); the client
	// sets it when it uploads a large input itself.
	ExternalInputPayloadStoragePath string `json:"externalInputPayloadStoragePath,omitempty"`
}

// Workflow is a workflow execution as the server reports it.
type Workflow struct {
	WorkflowId               string                 `json:"workflowId"`
	WorkflowName             string                 `json:"workflowName,omitempty"`
	WorkflowVersion          int                    `json:"workflowVersion,omitempty"`
	Status                   WorkflowStatus         `json:"status"`
	CreateTime               int64                  `json:"createTime,omitempty"`
	StartTime                int64                  `json:"startTime,omitempty"`
	UpdateTime               int64                  `json:"updateTime,omitempty"`
	EndTime                  int64                  `json:"endTime,omitempty"`
	Input                    map[string]interface{} `json:"input,omitempty"`
	Output                   map[string]interface{} `json:"output,omitempty"`
	Tasks                    []Task                 `json:"tasks"`
	CorrelationId            string                 `json:"correlationId,omitempty"`
	ReasonForIncompletion    string                 `json:"reasonForIncompletion,omitempty"`
	TaskToDomain             map[string]string      `json:"taskToDomain,omitempty"`
	FailedReferenceTaskNames []string               `json:"failedReferenceTaskNames,omitempty"`
	FailedTaskNames          []string               `json:"failedTaskNames,omitempty"`
	WorkflowDefinition       *WorkflowDef           `json:"workflowDefinition,omitempty"`
	Priority                 int                    `json:"priority"`
	Variables                map[string]interface{} `json:"variables,omitempty"`
	// ParentWorkflowId and ParentWorkflowTaskId are set on a sub-workflow:
	// the workflow and the SUB_WORKFLOW task that started it.
	ParentWorkflowId     string `json:"parentWorkflowId,omitempty"`
	ParentWorkflowTaskId string `json:"parentWorkflowTaskId,omitempty"`
	// ReRunFromWorkflowId is set on a workflow started by a rerun.
	ReRunFromWorkflowId string `json:"reRunFromWorkflowId,omitempty"`
	LastRetriedTime     int64  `json:"lastRetriedTime,omitempty"`
	// Event names the event that started the workflow, if one did.
	Event     string `json:"event,omitempty"`
	CreatedBy string `json:"createdBy,omitempty"`
	UpdatedBy string `json:"updatedBy,omitempty"`
	OwnerApp  string `json:"ownerApp,omitempty"`
	// Set when the server keeps the input or output in its external payload
	// storage; executor.WorkflowExecutor.GetWorkflow fetches them into Input and Output.
	ExternalInputPayloadStoragePath  string `json:"externalInputPayloadStoragePath,omitempty"`
	ExternalOutputPayloadStoragePath string `json:"externalOutputPayloadStoragePath,omitempty"`
}

// BulkResponse is the answer to a bulk metadata update.
type BulkResponse struct {
	BulkSuccessfulResults []string          `json:"bulkSuccessfulResults"`
	BulkErrorResults      map[string]string `json:"bulkErrorResults"`
}
