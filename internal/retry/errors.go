package retry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Every error of this package that concerns a request names it the same
// way: the method and the path as sent, base path and ids included, as in
// "conductor: GET /api/tasks/poll/batch/greet: 404 Not Found: ...". (The
// metrics label "endpoint" uses the route template instead, to keep its
// values few.)

// Sentinel errors, matched with errors.Is against what the clients return.
var (
	// ErrNotFound matches a 404 answer (unknown task, workflow or definition).
	ErrNotFound = errors.New("conductor: not found")
	// ErrUnauthorized matches 401 and 403 answers and failed token requests.
	ErrUnauthorized = errors.New("conductor: unauthorized")
	// ErrConflict matches a 409 answer (e.g. a workflow definition that
	// already exists, terminating a completed workflow).
	ErrConflict = errors.New("conductor: conflict")
	// ErrBadRequest matches a 400 answer (validation failed).
	ErrBadRequest = errors.New("conductor: bad request")
	// ErrDecode wraps answers that could not be decoded.
	ErrDecode = errors.New("conductor: cannot decode the server's answer")
	// ErrResponseTooLarge is returned when an answer is larger than the
	// configured limit (client.WithMaxResponseBytes).
	ErrResponseTooLarge = errors.New("conductor: answer larger than the limit")
)

// APIError is a non-2xx answer from the server.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Method and Path say which request failed (Path as sent, ids included).
	Method string
	Path   string
	// Message is the server's explanation: the "message" field of its JSON
	// error body, or the start of the body when it is not JSON.
	Message string
	// Code is the "error" field Orkes servers send with 401/403
	// (EXPIRED_TOKEN, INVALID_TOKEN), empty otherwise.
	Code string
	// RetryAfter is the wait the server asked for with Retry-After, if any.
	RetryAfter time.Duration
	// ValidationErrors lists the fields a 400 answer refused, when the
	// server says which (Conductor's bean validation does).
	ValidationErrors []ValidationError
	// Body is the start of the answer's body (at most 4 KiB).
	Body []byte
	// ContentType is the answer's Content-Type header.
	ContentType string
	// ServerRetryable is Conductor's "retryable" field of its error body:
	// true only for a TransientException (a store that failed for a
	// moment), false for every other exception it mapped; nil when the
	// body has no such field (a proxy's answer, another server).
	ServerRetryable *bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "conductor: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is lets errors.Is match the sentinel errors by status code.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	}
	return false
}

// Retryable reports whether sending the same read request again may
// succeed (Retryable(Read, status)); see Retryable for the table.
func (e *APIError) Retryable() bool {
	return Retryable(Read, e.StatusCode)
}

// TokenError is a failed token request (POST {BaseUrl}/token): the call
// that needed the token was not sent. Err is the request's error (an
// *APIError when the server answered; it matches ErrUnauthorized when the
// server refused the key).
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

// DecodeError is a 2xx answer that could not be decoded at all; it matches
// ErrDecode.
type DecodeError struct {
	// Endpoint names the request ("GET /api/tasks/poll/batch/greet").
	Endpoint string
	// ContentType is the answer's Content-Type header ("text/html" when a
	// web page came back where the API was expected).
	ContentType string
	// Err is the decoder's error.
	Err error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v: %s (content type %q): %v", ErrDecode, e.Endpoint, e.ContentType, e.Err)
}

// Is makes errors.Is(err, ErrDecode) true.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// ValidationError is one refused field of a 400 answer: Path names the
// service method, parameter and field (e.g.
// "registerTaskDef.arg0[0].ownerEmail").
type ValidationError struct {
	Path         string      `json:"path"`
	Message      string      `json:"message"`
	InvalidValue interface{} `json:"invalidValue,omitempty"`
}
