package worker

import (
	"fmt"

	"github.com/baton-go/baton/sdk/model"
)

// resultOf turns what a handler returned into the result to report for
// task, and returns the size in bytes of the JSON-encoded output.
//
// The rules, in order:
//   - a non-nil error fails the task with the error's text as reason
//     (FAILED_WITH_TERMINAL_ERROR when it wraps a *model.NonRetryableError); output
//     that encodes to a JSON object is kept for diagnosis;
//   - a *model.TaskResult or model.TaskResult is sent as it is, with the task id, workflow
//     id and worker id filled in when missing and COMPLETED as the default
//     status;
//   - nil (or a nil pointer) completes the task with an empty output;
//   - any other value completes the task with the value as output; it must
//     encode to a JSON object, otherwise the task fails with
//     FAILED_WITH_TERMINAL_ERROR (the same output would fail every retry)
//     and a reason that says why and names the field that cannot be encoded.
//
// workerID is used when the result carries no worker id of its own.
func resultOf(task *model.Task, workerID string, output interface{}, err error) (*model.TaskResult, int) {
	var res *model.TaskResult
	switch v := output.(type) {
	case *model.TaskResult:
		if v != nil {
			cp := *v
			res = &cp
		}
	case model.TaskResult:
		res = &v
	}
	if res == nil {
		res = &model.TaskResult{}
	} else {
		output = res.OutputData
	}
	if res.TaskId == "" {
		res.TaskId = task.TaskId
	}
	if res.WorkflowInstanceId == "" {
		res.WorkflowInstanceId = task.WorkflowInstanceId
	}
	if res.WorkerId == "" {
		res.WorkerId = workerID
	}

	out, size, convErr := model.OutputToMap(output)
	if err != nil {
		res.Status = model.FailedTask
		if model.IsNonRetryable(err) {
			res.Status = model.FailedWithTerminalErrorTask
		}
		res.ReasonForIncompletion = truncate(err.Error(), model.MaxReasonLength)
		if convErr != nil {
			out, size = map[string]interface{}{}, 2
		}
		res.OutputData = out
		return res, size
	}
	if convErr != nil {
		// The same output would fail the same way on every retry.
		res.Status = model.FailedWithTerminalErrorTask
		res.ReasonForIncompletion = truncate(convErr.Error(), model.MaxReasonLength)
		res.OutputData = map[string]interface{}{}
		res.CallbackAfterSeconds = 0
		return res, 2
	}
	res.OutputData = out
	if res.Status == "" {
		res.Status = model.CompletedTask
	} else if !res.Status.Valid() {
		bad := res.Status
		res.Status = model.FailedTask
		res.ReasonForIncompletion = truncate(fmt.Sprintf("handler returned an invalid status %q (want IN_PROGRESS, COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR)", string(bad)), model.MaxReasonLength)
	}
	return res, size
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
