package worker

import (
	"time"

	"github.com/baton-go/baton/internal/defaultrec"
	"github.com/baton-go/baton/internal/errkind"
)

// Recorder receives the runner's measurements. The runner calls it on its hot
// path, so implementations must be cheap and safe for concurrent use.
// sdk/metrics implements it for Prometheus; embed NopRecorder to implement
// only some of the methods.
//
// Label values are bounded by construction: task types are the ones the
// program started workers for, and error kinds come from the short list of
// ErrorKind constants.
type Recorder interface {
	// PollDone is called after every batch poll: how many tasks came back, how
	// long the request took, and the error kind ("" on success).
	PollDone(taskType string, tasks int, d time.Duration, kind ErrorKind)
	// ExecuteStarted is called just before a handler runs.
	ExecuteStarted(taskType string)
	// ExecuteDone is called when a handler has returned (or panicked). status
	// is the status that will be reported; kind is "" unless the handler
	// failed; resultSize is the encoded output size in bytes.
	ExecuteDone(taskType string, d time.Duration, status string, kind ErrorKind, resultSize int)
	// UpdateDone is called after every attempt to post a result; kind is ""
	// when the server accepted it.
	UpdateDone(taskType string, d time.Duration, kind ErrorKind)
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

// ErrorKind says why a poll, an execution or an update failed, in a few
// words fit for a metrics label: raw error texts never become labels.
type ErrorKind string

// The error kinds. Poll and update failures take the first eight, handler
// outcomes the next four.
const (
	ErrorKindTimeout      ErrorKind = errkind.Timeout      // request deadline passed
	ErrorKindConnection   ErrorKind = errkind.Connection   // could not reach the server
	ErrorKindServer       ErrorKind = errkind.Server       // 5xx answer
	ErrorKindThrottled    ErrorKind = errkind.Throttled    // 429 answer
	ErrorKindClient       ErrorKind = errkind.Client       // other 4xx answer
	ErrorKindUnauthorized ErrorKind = errkind.Unauthorized // 401/403, token problems
	ErrorKindDecode       ErrorKind = errkind.Decode       // answer could not be decoded
	ErrorKindOther        ErrorKind = errkind.Other        // anything else
	ErrorKindHandler      ErrorKind = errkind.Handler      // handler returned an error
	ErrorKindTerminal     ErrorKind = errkind.Terminal     // handler returned a non-retryable error
	ErrorKindPanic        ErrorKind = errkind.Panic        // handler panicked
	ErrorKindOutput       ErrorKind = errkind.Output       // handler output is not a JSON object
)

// NopRecorder records nothing. WithMetrics(NopRecorder{}) turns the runner's
// metrics off; a recorder that cares about a few events can embed it.
type NopRecorder struct{}

var _ Recorder = NopRecorder{}

// PollDone does nothing.
func (NopRecorder) PollDone(string, int, time.Duration, ErrorKind) {}

// ExecuteStarted does nothing.
func (NopRecorder) ExecuteStarted(string) {}

// ExecuteDone does nothing.
func (NopRecorder) ExecuteDone(string, time.Duration, string, ErrorKind, int) {}

// UpdateDone does nothing.
func (NopRecorder) UpdateDone(string, time.Duration, ErrorKind) {}

// UpdateGaveUp does nothing.
func (NopRecorder) UpdateGaveUp(string) {}

// LeaseExtended does nothing.
func (NopRecorder) LeaseExtended(string) {}

// SlotsChanged does nothing.
func (NopRecorder) SlotsChanged(string, int, int) {}

// PausedChanged does nothing.
func (NopRecorder) PausedChanged(string, bool) {}

// defaultRecorder is the recorder of a runner created without WithMetrics:
// the one sdk/metrics links in when the program imports it (its Prometheus
// recorder on client_golang's default registry, which ProvideMetrics serves:
// the original SDK's recipe), otherwise NopRecorder. sdk/worker itself does
// not depend on client_golang.
func defaultRecorder() (Recorder, error) {
	v, err := defaultrec.New()
	if err != nil {
		return NopRecorder{}, err
	}
	if rec, ok := v.(Recorder); ok {
		return rec, nil
	}
	return NopRecorder{}, nil
}
