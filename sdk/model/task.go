package model

// Task is a unit of work as the server hands it to a worker. Every field the
// server sends is here; integer widths follow the server (int for Java int,
// int64 for Java long, epoch milliseconds for times).
type Task struct {
	TaskType                         string                 `json:"taskType,omitempty"`
	Status                           TaskStatus             `json:"status,omitempty"`
	InputData                        map[string]interface{} `json:"inputData,omitempty"`
	ReferenceTaskName                string                 `json:"referenceTaskName,omitempty"`
	RetryCount                       int                    `json:"retryCount"`
	Seq                              int                    `json:"seq"`
	CorrelationId                    string                 `json:"correlationId,omitempty"`
	PollCount                        int                    `json:"pollCount"`
	TaskDefName                      string                 `json:"taskDefName,omitempty"`
	ScheduledTime                    int64                  `json:"scheduledTime"`
	StartTime                        int64                  `json:"startTime"`
	EndTime                          int64                  `json:"endTime"`
	UpdateTime                       int64                  `json:"updateTime"`
	StartDelayInSeconds              int                    `json:"startDelayInSeconds"`
	RetriedTaskId                    string                 `json:"retriedTaskId,omitempty"`
	Retried                          bool                   `json:"retried"`
	Executed                         bool                   `json:"executed"`
	CallbackFromWorker               bool                   `json:"callbackFromWorker"`
	ResponseTimeoutSeconds           int64                  `json:"responseTimeoutSeconds"`
	WorkflowInstanceId               string                 `json:"workflowInstanceId,omitempty"`
	WorkflowType                     string                 `json:"workflowType,omitempty"`
	TaskId                           string                 `json:"taskId,omitempty"`
	ReasonForIncompletion            string                 `json:"reasonForIncompletion,omitempty"`
	CallbackAfterSeconds             int64                  `json:"callbackAfterSeconds"`
	WorkerId                         string                 `json:"workerId,omitempty"`
	OutputData                       map[string]interface{} `json:"outputData,omitempty"`
	WorkflowTask                     *WorkflowTask          `json:"workflowTask,omitempty"`
	Domain                           string                 `json:"domain,omitempty"`
	RateLimitPerFrequency            int                    `json:"rateLimitPerFrequency"`
	RateLimitFrequencyInSeconds      int                    `json:"rateLimitFrequencyInSeconds"`
	ExternalInputPayloadStoragePath  string                 `json:"externalInputPayloadStoragePath,omitempty"`
	ExternalOutputPayloadStoragePath string                 `json:"externalOutputPayloadStoragePath,omitempty"`
	WorkflowPriority                 int                    `json:"workflowPriority"`
	ExecutionNameSpace               string                 `json:"executionNameSpace,omitempty"`
	IsolationGroupId                 string                 `json:"isolationGroupId,omitempty"`
	Iteration                        int                    `json:"iteration"`
	SubWorkflowId                    string                 `json:"subWorkflowId,omitempty"`
	SubworkflowChanged               bool                   `json:"subworkflowChanged"`
	FirstStartTime                   int64                  `json:"firstStartTime"`
	ParentTaskId                     string                 `json:"parentTaskId,omitempty"`
	QueueWaitTime                    int64                  `json:"queueWaitTime"`
	LoopOverTask                     bool                   `json:"loopOverTask"`
	TaskDefinition                   *TaskDef               `json:"taskDefinition,omitempty"`
}

// TaskExecLog is one line of a task's execution log.
type TaskExecLog struct {
	Log         string `json:"log"`
	TaskId      string `json:"taskId,omitempty"`
	CreatedTime int64  `json:"createdTime,omitempty"`
}

// PollData tells which worker last polled a queue, and when.
type PollData struct {
	QueueName    string `json:"queueName,omitempty"`
	Domain       string `json:"domain,omitempty"`
	WorkerId     string `json:"workerId,omitempty"`
	LastPollTime int64  `json:"lastPollTime,omitempty"`
}

// TaskResult is what a worker reports for a task.
type TaskResult struct {
	WorkflowInstanceId               string                 `json:"workflowInstanceId"`
	TaskId                           string                 `json:"taskId"`
	ReasonForIncompletion            string                 `json:"reasonForIncompletion,omitempty"`
	CallbackAfterSeconds             int64                  `json:"callbackAfterSeconds,omitempty"`
	WorkerId                         string                 `json:"workerId,omitempty"`
	Status                           TaskResultStatus       `json:"status,omitempty"`
	OutputData                       map[string]interface{} `json:"outputData"`
	Logs                             []TaskExecLog          `json:"logs,omitempty"`
	ExtendLease                      bool                   `json:"extendLease,omitempty"`
	ExternalOutputPayloadStoragePath string                 `json:"externalOutputPayloadStoragePath,omitempty"`
	SubWorkflowId                    string                 `json:"subWorkflowId,omitempty"`
}

// NewTaskResult returns a result for t with its task id, workflow id and
// worker id filled in and an empty output. Set Status (and OutputData) before
// returning it from a handler.
func NewTaskResult(t *Task) *TaskResult {
	return &TaskResult{
		TaskId:             t.TaskId,
		WorkflowInstanceId: t.WorkflowInstanceId,
		WorkerId:           t.WorkerId,
		OutputData:         map[string]interface{}{},
	}
}

// NewTaskResultFromTask is NewTaskResult under the name the current official
// Go SDK uses.
func NewTaskResultFromTask(t *Task) *TaskResult { return NewTaskResult(t) }

// Log appends a line to the result's execution log.
func (r *TaskResult) Log(line string) {
	r.Logs = append(r.Logs, TaskExecLog{Log: line, TaskId: r.TaskId})
}

// ExecuteTaskFunction is the handler signature of the original Go SDK. The
// returned value becomes the task output (it must encode to a JSON object); a
// returned *TaskResult is sent as it is; a non-nil error fails the task.
type ExecuteTaskFunction func(t *Task) (interface{}, error)
