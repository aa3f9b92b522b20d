package worker

import (
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

// A task the client cannot decode (a number beyond float64 that Jackson
// keeps as a BigInteger, a field of the wrong type) has been handed out by
// the server all the same: it is IN_PROGRESS there, and without an answer
// it would wait out its response timeout (an hour by default) and then be
// retried into the same failure. The worker fails it at once with
// FAILED_WITH_TERMINAL_ERROR and a reason naming the field, so that the
// workflow's owner sees why, while the rest of the batch runs as usual.

// undecodableTasks returns the tasks err says could not be decoded, and
// whether err is only that (a *client.TaskDecodeError): the answer itself
// was good, so the poll or the update succeeded.
func undecodableTasks(err error) ([]client.UndecodableTask, bool) {
	var tde *client.TaskDecodeError
	if err == nil || !errors.As(err, &tde) {
		return nil, false
	}
	return tde.Tasks, true
}

// undecodableReason is the reasonForIncompletion of a task failed that way.
func undecodableReason(u client.UndecodableTask) string {
	return "baton: the worker cannot decode this task: " + u.Reason
}

// refuse fails, each in a slot of its own, the tasks the server handed out
// that could not be decoded. A task whose ids could not be read cannot be
// failed: it is logged, and it times out on the server.
func (tw *taskWorker) refuse(bad []client.UndecodableTask) {
	for _, u := range bad {
		tw.stats.failed()
		log := tw.log.WithFields(logrus.Fields{"taskId": u.TaskId, "workflowId": u.WorkflowInstanceId, "field": u.Field})
		if u.TaskId == "" || u.WorkflowInstanceId == "" {
			log.Error("worker: the server handed out a task that cannot be decoded and has no readable task or workflow id, so it cannot be failed; it will time out on the server: " + u.Reason)
			continue
		}
		log.Error("worker: failing a task that cannot be decoded: " + u.Reason)
		if h := tw.hooks.OnWorkerError; h != nil {
			h(tw.key.taskType, fmt.Errorf("task %s of workflow %s cannot be decoded: %s", u.TaskId, u.WorkflowInstanceId, u.Reason))
		}
		res := &model.TaskResult{
			TaskId:                u.TaskId,
			WorkflowInstanceId:    u.WorkflowInstanceId,
			WorkerId:              tw.workerID,
			Status:                model.FailedWithTerminalErrorTask,
			ReasonForIncompletion: undecodableReason(u),
			OutputData:            map[string]interface{}{},
		}
		n := tw.stats.started(1)
		tw.rec.SlotsChanged(tw.key.taskType, int(n), max(0, int(tw.current().slots-n)))
		tw.running.add()
		go tw.runSlotFrom(res)
	}
}
