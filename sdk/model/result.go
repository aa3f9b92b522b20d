package model

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MaxReasonLength is how much of a reason for incompletion the server keeps.
const MaxReasonLength = 500

// ResultOf turns what a handler returned into the result to report for
// task, and returns the size in bytes of the JSON-encoded output.
//
// The rules, in order:
//   - a non-nil error fails the task with the error's text as reason
//     (FAILED_WITH_TERMINAL_ERROR when it wraps a *NonRetryableError); output
//     that encodes to a JSON object is kept for diagnosis;
//   - a *TaskResult or TaskResult is sent as it is, with the task id, workflow
//     id and worker id filled in when missing and COMPLETED as the default
//     status;
//   - nil (or a nil pointer) completes the task with an empty output;
//   - any other value completes the task with the value as output; it must
//     encode to a JSON object, otherwise the task fails with
//     FAILED_WITH_TERMINAL_ERROR (the same output would fail every retry)
//     and a reason that says why and names the field that cannot be encoded.
//
// workerID is used when the result carries no worker id of its own.
func ResultOf(task *Task, workerID string, output interface{}, err error) (*TaskResult, int) {
	var res *TaskResult
	switch v := output.(type) {
	case *TaskResult:
		if v != nil {
			cp := *v
			res = &cp
		}
	case TaskResult:
		res = &v
	}
	if res == nil {
		res = &TaskResult{}
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

	out, size, convErr := OutputToMap(output)
	if err != nil {
		res.Status = FailedTask
		if IsNonRetryable(err) {
			res.Status = FailedWithTerminalErrorTask
		}
		res.ReasonForIncompletion = Truncate(err.Error(), MaxReasonLength)
		if convErr != nil {
			out, size = map[string]interface{}{}, 2
		}
		res.OutputData = out
		return res, size
	}
	if convErr != nil {
		// The same output would fail the same way on every retry.
		res.Status = FailedWithTerminalErrorTask
		res.ReasonForIncompletion = Truncate(convErr.Error(), MaxReasonLength)
		res.OutputData = map[string]interface{}{}
		res.CallbackAfterSeconds = 0
		return res, 2
	}
	res.OutputData = out
	if res.Status == "" {
		res.Status = CompletedTask
	} else if !res.Status.Valid() {
		bad := res.Status
		res.Status = FailedTask
		res.ReasonForIncompletion = Truncate(fmt.Sprintf("handler returned an invalid status %q (want IN_PROGRESS, COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR)", string(bad)), MaxReasonLength)
	}
	return res, size
}

// OutputToMap converts a handler's output to the JSON object sent as task
// output, and returns its encoded size. nil and nil pointers give an empty
// object. A value that cannot be encoded, or that encodes to anything but an
// object, is an error that says which.
func OutputToMap(output interface{}) (map[string]interface{}, int, error) {
	if output == nil {
		return map[string]interface{}{}, 2, nil
	}
	data, err := json.Marshal(output)
	if err != nil {
		if path := unencodablePath(output); path != "" {
			return nil, 0, fmt.Errorf("task output field %q (in a %T) cannot be encoded as JSON: %v", path, output, err)
		}
		return nil, 0, fmt.Errorf("task output of type %T cannot be encoded as JSON: %v", output, err)
	}
	if m, ok := output.(map[string]interface{}); ok {
		if m == nil {
			return map[string]interface{}{}, 2, nil
		}
		return m, len(data), nil
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		return map[string]interface{}{}, 2, nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, 0, fmt.Errorf("task output of type %T encodes to %s, want a JSON object", output, jsonKind(trimmed))
	}
	m := make(map[string]interface{})
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, 0, fmt.Errorf("task output of type %T cannot be decoded as a JSON object: %v", output, err)
	}
	return m, len(data), nil
}

func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	default:
		return "a JSON number"
	}
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
