package model

import "errors"

// NonRetryableError marks a handler error as terminal: the task ends
// FAILED_WITH_TERMINAL_ERROR and the server does not retry it. It is found
// with errors.As, so it may be wrapped with fmt.Errorf("...: %w", err).
type NonRetryableError struct {
	Err error
}

// NewNonRetryableError wraps err so that the task fails without retries.
func NewNonRetryableError(err error) error {
	return &NonRetryableError{Err: err}
}

func (e *NonRetryableError) Error() string {
	if e.Err == nil {
		return "non-retryable error"
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *NonRetryableError) Unwrap() error { return e.Err }

// IsNonRetryable reports whether err, or an error it wraps, is a
// *NonRetryableError.
func IsNonRetryable(err error) bool {
	var nr *NonRetryableError
	return errors.As(err, &nr)
}
