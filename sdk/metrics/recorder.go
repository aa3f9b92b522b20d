package metrics

import "time"

// Recorder receives the worker's measurements. The TaskRunner calls it on its
// hot path, so implementations must be cheap and safe for concurrent use.
// NopRecorder is the default: a runner without metrics pays one interface call
// per event and nothing else.
//
// Label values passed in are bounded by construction: task types are the
// types the user started workers for, and error kinds come from a short fixed
// list (see the ErrorKind constants).
type Recorder interface {
	// PollDone is called after every batch poll: how many tasks came back, how
	// long the request took, and the error kind ("" on success).
	PollDone(taskType string, tasks int, d time.Duration, errKind string)
	// ExecuteDone is called when a handler has returned (or panicked). status
	// is the status that will be reported; errKind is "" unless the handler
	// failed; resultSize is the encoded output size in bytes.
	ExecuteDone(taskType string, d time.Duration, status string, errKind string, resultSize int)
	// UpdateDone is called after every attempt to post a result; errKind is ""
	// when the server accepted it.
	UpdateDone(taskType string, d time.Duration, errKind string)
	// UpdateGaveUp is called when a result could not be delivered before the
	// shutdown deadline or was rejected for good.
	UpdateGaveUp(taskType string)
	// LeaseExtended is called after each successful lease extension.
	LeaseExtended(taskType string)
	// SlotsChanged reports the execution slots of a task type: in use and free.
	SlotsChanged(taskType string, inFlight, free int)
	// PausedChanged reports whether polling of a task type is paused.
	PausedChanged(taskType string, paused bool)
}

// Error kinds used as the "kind" label. They are few on purpose: raw error
// strings never become labels.
const (
	ErrorKindTimeout      = "timeout"        // request deadline passed
	ErrorKindConnection   = "connection"     // could not reach the server
	ErrorKindServer       = "server"         // 5xx answer
	ErrorKindThrottled    = "throttled"      // 429 answer
	ErrorKindClient       = "client"         // other 4xx answer
	ErrorKindUnauthorized = "unauthorized"   // 401/403, token problems
	ErrorKindDecode       = "decode"         // answer could not be decoded
	ErrorKindHandler      = "handler_error"  // handler returned an error
	ErrorKindTerminal     = "terminal"       // handler returned a non-retryable error
	ErrorKindPanic        = "panic"          // handler panicked
	ErrorKindOutput       = "invalid_output" // handler output is not a JSON object
	ErrorKindOther        = "other"
)

// pollErrorKinds are the values of the kind label of task_poll_error, and
// executeErrorKinds those of task_execute_error. Each series exists, at
// zero, from a task type's first event on.
var (
	pollErrorKinds = [...]string{ErrorKindTimeout, ErrorKindConnection, ErrorKindServer, ErrorKindThrottled,
		ErrorKindClient, ErrorKindUnauthorized, ErrorKindDecode, ErrorKindOther}
	executeErrorKinds = [...]string{ErrorKindHandler, ErrorKindTerminal, ErrorKindPanic, ErrorKindOutput, ErrorKindOther}
)

// NopRecorder records nothing.
type NopRecorder struct{}

var _ Recorder = NopRecorder{}

func (NopRecorder) PollDone(string, int, time.Duration, string)            {}
func (NopRecorder) ExecuteDone(string, time.Duration, string, string, int) {}
func (NopRecorder) UpdateDone(string, time.Duration, string)               {}
func (NopRecorder) UpdateGaveUp(string)                                    {}
func (NopRecorder) LeaseExtended(string)                                   {}
func (NopRecorder) SlotsChanged(string, int, int)                          {}
func (NopRecorder) PausedChanged(string, bool)                             {}
