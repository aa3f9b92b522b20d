package worker

import (
	"context"
	"errors"
	"net"
	"time"
)

// apiFailure is how a taskAPI implementation describes a failed call to the
// runner: whether trying again can help, after how long at least, and the
// metrics kind. It wraps the original error (e.g. a *client.APIError), whose
// text it keeps, so errors.As still finds it in hooks.
type apiFailure struct {
	err        error
	status     int // HTTP status; 0 when no answer came
	retryable  bool
	retryAfter time.Duration
	kind       ErrorKind
}

func (e *apiFailure) Error() string { return e.err.Error() }
func (e *apiFailure) Unwrap() error { return e.err }

type errClass struct {
	kind       ErrorKind
	retryable  bool
	retryAfter time.Duration
}

// classify decides what the runner does about err. Errors without an
// apiFailure (transport errors, timeouts) are retryable.
func classify(err error) errClass {
	if err == nil {
		return errClass{}
	}
	var f *apiFailure
	if errors.As(err, &f) {
		return errClass{kind: f.kind, retryable: f.retryable, retryAfter: f.retryAfter}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errClass{kind: ErrorKindTimeout, retryable: true}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return errClass{kind: ErrorKindTimeout, retryable: true}
		}
		return errClass{kind: ErrorKindConnection, retryable: true}
	}
	return errClass{kind: ErrorKindOther, retryable: true}
}

// kindOfStatus maps an HTTP status to a metrics error kind.
func kindOfStatus(status int) ErrorKind {
	switch {
	case status == 401 || status == 403:
		return ErrorKindUnauthorized
	case status == 429:
		return ErrorKindThrottled
	case status >= 500:
		return ErrorKindServer
	case status >= 400:
		return ErrorKindClient
	}
	return ErrorKindOther
}
