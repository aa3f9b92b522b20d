package model

// TaskResultStatus is the status a worker reports for a task.
type TaskResultStatus string

// The statuses a worker may report. The names match the official Go SDK so
// that its users only need to change the import path.
const (
	InProgressTask              TaskResultStatus = "IN_PROGRESS"
	FailedTask                  TaskResultStatus = "FAILED"
	FailedWithTerminalErrorTask TaskResultStatus = "FAILED_WITH_TERMINAL_ERROR"
	CompletedTask               TaskResultStatus = "COMPLETED"
)

// Valid reports whether s is one of the four statuses the server accepts in
// an update.
func (s TaskResultStatus) Valid() bool {
	switch s {
	case InProgressTask, FailedTask, FailedWithTerminalErrorTask, CompletedTask:
		return true
	}
	return false
}

// Terminal reports whether the status ends the task (no further updates).
func (s TaskResultStatus) Terminal() bool {
	return s == FailedTask || s == FailedWithTerminalErrorTask || s == CompletedTask
}

// TaskStatus is the status of a task as the server stores it.
type TaskStatus string

// Task statuses as the server reports them.
const (
	TaskInProgress              TaskStatus = "IN_PROGRESS"
	TaskCanceled                TaskStatus = "CANCELED"
	TaskFailed                  TaskStatus = "FAILED"
	TaskFailedWithTerminalError TaskStatus = "FAILED_WITH_TERMINAL_ERROR"
	TaskCompleted               TaskStatus = "COMPLETED"
	TaskCompletedWithErrors     TaskStatus = "COMPLETED_WITH_ERRORS"
	TaskScheduled               TaskStatus = "SCHEDULED"
	TaskTimedOut                TaskStatus = "TIMED_OUT"
	TaskSkipped                 TaskStatus = "SKIPPED"
)

// Terminal reports whether a task in this status will not change again.
func (s TaskStatus) Terminal() bool {
	return s != TaskInProgress && s != TaskScheduled && s != ""
}

// Retriable reports whether a task that ended in this status may be retried
// by the server (given retries are left).
func (s TaskStatus) Retriable() bool {
	switch s {
	case TaskCanceled, TaskFailedWithTerminalError, TaskSkipped:
		return false
	}
	return true
}

// WorkflowStatus is the status of a workflow execution.
type WorkflowStatus string

// Workflow statuses as the server reports them.
const (
	WorkflowRunning    WorkflowStatus = "RUNNING"
	WorkflowCompleted  WorkflowStatus = "COMPLETED"
	WorkflowFailed     WorkflowStatus = "FAILED"
	WorkflowTimedOut   WorkflowStatus = "TIMED_OUT"
	WorkflowTerminated WorkflowStatus = "TERMINATED"
	WorkflowPaused     WorkflowStatus = "PAUSED"
)

// Terminal reports whether the workflow has ended.
func (s WorkflowStatus) Terminal() bool {
	switch s {
	case WorkflowCompleted, WorkflowFailed, WorkflowTimedOut, WorkflowTerminated:
		return true
	}
	return false
}
