package worker

import "github.com/baton-go/baton/sdk/model"

// job is one task on its way through a worker, and everything the parts
// learn about it: dispatch creates it for a polled task with the span the
// poll began (the reporter, for a task update-v2 handed back), the slot's
// executor runs the handler and fills in the lease and the result, and the
// reporter delivers the result inside the task's span and says how
// delivery ended. Only the slot's goroutine touches it after dispatch, so
// it needs no locking.
type job struct {
	task  *model.Task
	trace *taskTrace // the task's span; nil when tracing is off

	// Filled in by the executor.
	lease *lease            // extends the task on the server while the handler runs
	res   *model.TaskResult // what the handler's outcome became

	// Filled in by the reporter.
	end delivery
}

// delivery is how a result's delivery ended: the server took it (and
// handed back next through update-v2, or not), or it was given up.
type delivery struct {
	next   *model.Task // the next task from update-v2, already IN_PROGRESS; nil otherwise
	gaveUp error       // why the result was given up; nil when the server took it
}
