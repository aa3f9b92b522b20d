// Package errkind holds the short list of error kinds that sdk/worker
// reports to its Recorder and that sdk/metrics turns into label values. It
// is internal so that the two packages share one list without exporting
// it: users see the kinds as the worker.ErrorKind constants.
package errkind

// The kinds. Poll and update failures take the first eight, handler
// outcomes the next four (and Other).
const (
	Timeout      = "timeout"        // request deadline passed
	Connection   = "connection"     // could not reach the server
	Server       = "server"         // 5xx answer
	Throttled    = "throttled"      // 429 answer
	Client       = "client"         // other 4xx answer
	Unauthorized = "unauthorized"   // 401/403, token problems
	Decode       = "decode"         // answer could not be decoded
	Other        = "other"          // anything else
	Handler      = "handler_error"  // handler returned an error
	Terminal     = "terminal"       // handler returned a non-retryable error
	Panic        = "panic"          // handler panicked
	Output       = "invalid_output" // handler output is not a JSON object
)

// Poll lists the kinds a failed poll or result update can have.
func Poll() []string {
	return []string{Timeout, Connection, Server, Throttled, Client, Unauthorized, Decode, Other}
}

// Execute lists the kinds a failed execution can have.
func Execute() []string {
	return []string{Handler, Terminal, Panic, Output, Other}
}
