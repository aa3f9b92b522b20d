package client

import "net/http"

// CallKind says what a request does, which decides whether an answer is
// worth sending it again (Retryable).
type CallKind int

const (
	// CallRead is a request that changes nothing on the server, or that is
	// safe to apply twice: GETs, polls, definition updates (PUT).
	CallRead CallKind = iota
	// CallWrite is a request that may do its work twice if resent after it
	// reached the server: starting a workflow, registering a workflow
	// definition, adding a task log line.
	CallWrite
	// CallResult is posting a task result by a worker. A result is state
	// that must reach the server (a lost one makes the task time out and run
	// again), and posting the same result twice is harmless, so it is
	// retried on every answer that a later attempt may turn around.
	CallResult
)

// Retryable is the one table that decides whether sending a request again
// may succeed, for the client's own retries (RetryPolicy) and the worker's
// result delivery alike:
//
//	status       meaning on Conductor                                  read  write  result
//	400          invalid request or definition (validationErrors)     no    no     no
//	401, 403     token missing, expired or refused; key not allowed*   no    no     yes
//	404          no such task, workflow or definition; wrong base URL  no    no     no
//	408          a proxy gave up waiting for the request body          no    no     yes
//	409          conflict (definition exists, workflow state)          no    no     no
//	429          throttled (Orkes, proxies); honour Retry-After        yes   yes    yes
//	500          store failure (SQLite busy, Redis gone) or a request  no    no     yes
//	             Conductor could not read: it cannot tell us which
//	502, 504     a proxy could not reach the server, or gave up: the   yes   no     yes
//	             request may have been applied
//	503          unavailable: not applied                              yes   yes    yes
//
// (*) The client refreshes its token once on 401 and on 403 EXPIRED_TOKEN /
// INVALID_TOKEN before any of this; a worker keeps retrying a result through
// an auth failure because the key may be restored, and stops polling when a
// fresh token is refused (see sdk/worker's fail-fast rules). Polls are not in
// the table: a worker retries every failed poll with backoff, since the next
// poll is the way to find out whether the server is back.
func Retryable(kind CallKind, status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return kind != CallWrite
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestTimeout:
		return kind == CallResult
	}
	return kind == CallResult && status >= 500
}
