package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/baton-go/baton/internal/retry"
)

// Every error of this package that concerns a request names it the same
// way: the method and the path as sent, base path and ids included, as in
// "conductor: GET /api/tasks/poll/batch/greet: 404 Not Found: ...". (The
// metrics label "endpoint" uses the route template instead, to keep its
// values few.) The error types are defined in the SDK's internal failure
// table, which sdk/worker reads too; these are their names for users.

// Sentinel errors, matched with errors.Is against what the clients return.
var (
	// ErrNotFound matches a 404 answer (unknown task, workflow or definition).
	ErrNotFound = retry.ErrNotFound
	// ErrUnauthorized matches 401 and 403 answers and failed token requests.
	ErrUnauthorized = retry.ErrUnauthorized
	// ErrConflict matches a 409 answer (e.g. a workflow definition that
	// already exists, terminating a completed workflow).
	ErrConflict = retry.ErrConflict
	// ErrBadRequest matches a 400 answer (validation failed).
	ErrBadRequest = retry.ErrBadRequest
	// ErrNotSupported is returned when the server lacks an endpoint (e.g.
	// POST /tasks/update-v2 on an older server).
	ErrNotSupported = errors.New("conductor: endpoint not supported by this server")
	// ErrDecode wraps answers that could not be decoded.
	ErrDecode = retry.ErrDecode
	// ErrResponseTooLarge is returned when an answer is larger than the
	// configured limit (WithMaxResponseBytes).
	ErrResponseTooLarge = retry.ErrResponseTooLarge
)

// APIError is a non-2xx answer from the server: its StatusCode, the
// request (Method, Path), the server's Message and error Code, the
// RetryAfter it asked for, the ValidationErrors of a 400, the start of the
// Body, its ContentType and Conductor's "retryable" flag
// (ServerRetryable). errors.Is matches it against ErrNotFound,
// ErrUnauthorized, ErrConflict and ErrBadRequest by status.
type APIError = retry.APIError

// ValidationError is one refused field of a 400 answer: Path names the
// service method, parameter and field (e.g.
// "registerTaskDef.arg0[0].ownerEmail").
type ValidationError = retry.ValidationError

// UndecodableTask is a task of a poll or update-v2 answer that could not be
// decoded (e.g. a number in its input beyond what a float64 holds, which
// Conductor keeps as a BigInteger). The server has already marked it
// IN_PROGRESS, so whoever polled it should fail it (the worker does, with
// FAILED_WITH_TERMINAL_ERROR and Reason): otherwise it waits out its
// response timeout.
type UndecodableTask struct {
	// TaskId, WorkflowInstanceId and TaskType are read from the task's JSON
	// where they are plain strings; empty otherwise.
	TaskId             string
	WorkflowInstanceId string
	TaskType           string
	// Field is the path of the value that failed, e.g. "inputData.order.id".
	Field string
	// Reason says what is wrong with it, without repeating a huge value.
	Reason string
}

// TaskDecodeError reports the tasks of an answer that could not be
// decoded, each on its own: the other tasks of a batch poll are returned
// beside it (see TaskClient.BatchPoll). It matches ErrDecode.
type TaskDecodeError struct {
	Endpoint string
	Tasks    []UndecodableTask
}

func (e *TaskDecodeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %s: %d task(s) could not be decoded", ErrDecode, e.Endpoint, len(e.Tasks))
	for i, t := range e.Tasks {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Tasks)-3)
			break
		}
		fmt.Fprintf(&b, "; task %q: %s", t.TaskId, t.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrDecode) true.
func (e *TaskDecodeError) Is(target error) bool { return target == ErrDecode }
