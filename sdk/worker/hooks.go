package worker

import (
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// Hooks are callbacks for runner events, for users who want to log, trace or
// count them their own way. Every field is optional; a nil field costs a nil
// check. Hooks run on the runner's goroutines, synchronously: they must be
// quick and must not block. They may be called concurrently.
type Hooks struct {
	// OnPoll is called after every successful poll with the number of tasks
	// received (0 included).
	OnPoll func(taskType string, count int)
	// OnEmptyPoll is called after a successful poll that returned no task.
	OnEmptyPoll func(taskType string)
	// OnTaskStarted is called just before a handler runs.
	OnTaskStarted func(t *model.Task)
	// OnTaskFinished is called when a handler has returned (or panicked),
	// with the status that will be reported and the handler's run time.
	OnTaskFinished func(t *model.Task, status model.TaskResultStatus, d time.Duration)
	// OnUpdateFailed is called after each failed attempt to post a result
	// that will be retried; attempt counts from 1.
	OnUpdateFailed func(r *model.TaskResult, err error, attempt int)
	// OnUpdateGaveUp is called when a result will not be delivered: the server
	// rejected it for good, or the shutdown deadline passed.
	OnUpdateGaveUp func(r *model.TaskResult, err error)
	// OnWorkerError is called for errors of the worker machinery itself: a
	// failed poll or a failed lease extension.
	OnWorkerError func(taskType string, err error)
	// OnFatalError is called once when a worker stops polling because the
	// server's answers prove the configuration wrong (see TaskRunner.Err);
	// err is a *ConfigError.
	OnFatalError func(taskType string, err error)
}
