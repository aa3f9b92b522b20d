// Package retry is the SDK's one failure table: what a failed call's
// answer means for trying it again (Decide), shared by sdk/client's own
// retries and sdk/worker's polls and results, with the error types it reads.
// sdk/client re-exports the error types under their own names; the table and
// its call kinds are the SDK's wiring and stay here.
package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
)

// Kind says what a request does, which decides what a failed answer
// means for it (Decide).
type Kind int

const (
	// Read is a request that changes nothing on the server, or that is
	// safe to apply twice: GETs (a task, a workflow, definitions, queue
	// sizes, poll data) and definition updates (PUT).
	Read Kind = iota
	// Write is a request that may do its work twice if resent after it
	// reached the server: starting a workflow, registering a workflow
	// definition, adding a task log line, update-v2 (each post takes
	// another task off the queue), and an update by reference name (a
	// resend can change the retry Conductor just scheduled under the same
	// reference name).
	Write
	// Result is posting a task result with POST /tasks. A result is
	// state that must reach the server (a lost one makes the task time out
	// and run again), and posting the same result twice is harmless, so it
	// is retried on every answer that a later attempt may turn around.
	Result
	// Poll is a poll for tasks: a read, whose answers also tell a
	// worker that its base URL or credentials are wrong.
	Poll
)

// Verdict is what a failed call's answer says about trying again.
type Verdict int

const (
	// Always: the answer may change (a server or proxy restarting, a
	// store failing for a moment, throttling, a lost connection). The
	// client retries within its client.RetryPolicy; a worker retries results
	// until the shutdown deadline and polls for as long as it runs.
	Always Verdict = iota + 1
	// Few: Conductor said the request will fail again (500 with
	// "retryable": false), but a store that was busy (SQLITE_BUSY) answers
	// the same: a few more attempts (FewAttempts for a worker's
	// results), then the caller gives up.
	Few
	// GiveUp: no resend can succeed, or a resend may do the work twice:
	// the error goes to the caller at once (a worker logs the result,
	// counts it and hands it to OnUpdateGaveUp).
	GiveUp
	// Misconfigured: the answer proves the base URL, the credentials or
	// the TLS settings wrong (401/403 after a fresh token, a web page or a
	// 404 where the task API should be, an untrusted certificate). The
	// client gives up; a worker counts it as evidence and stops once
	// several such answers over several seconds agree (sdk/worker).
	Misconfigured
)

var verdictNames = [...]string{"", "retry", "retry a few times", "give up", "misconfigured"}

func (v Verdict) String() string {
	if v < Always || v > Misconfigured {
		return "unknown"
	}
	return verdictNames[v]
}

// FewAttempts is how many attempts a worker makes to post a
// result whose answers are Few (500 with "retryable": false) before
// it gives up: with the worker's backoff (100 ms doubling to 5 s) about
// 25 s, longer than a SQLite database stays locked under load.
const FewAttempts = 10

// Decide is the SDK's one failure table: what an error of a call of the
// given kind means. The client's own retries (RetryPolicy), the worker's
// result delivery and its fatal-configuration rule all read it; the table
// in RELIABILITY.md ("Failure model") spells it out with what the user
// sees, and tests pin both (TestFailureTable, and
// TestReliabilityDocMatchesTheFailureTable for the document).
//
//	answer                                       read    write   result  poll
//	400, 409, 413, other 4xx                     give up give up give up retry
//	401, 403 (after one token refresh)           misconf misconf misconf misconf
//	404                                          give up give up give up misconf
//	408 (a proxy gave up on the request body)    give up give up retry   retry
//	429 (honour Retry-After)                     retry   retry   retry   retry
//	500 "retryable": true (TransientException)   retry   give up retry   retry
//	500 "retryable": false (any other exception) give up give up few     retry
//	5xx without Conductor's body (a proxy)       give up give up retry   retry
//	502, 504 (a proxy: may have been applied)    retry   give up retry   retry
//	503 (not applied)                            retry   retry   retry   retry
//	a web page (text/html) with a 2xx or 4xx     give up give up give up misconf
//	connection refused, DNS (never sent)         retry   retry   retry   retry
//	timeout, reset (sent; may have been applied) retry   give up retry   retry
//	2xx that cannot be decoded                   give up give up retry   retry
//	TLS: untrusted or mismatched certificate     misconf misconf misconf misconf
//	token request 401, 403, 404, web page        misconf misconf misconf misconf
//	token request 408, 429, 5xx, network error   retry   retry   retry   retry
//	token request, other 4xx                     give up give up give up give up
//
// "few" is Few, "misconf" Misconfigured. A poll is never given up by
// a worker: it polls again after a backoff whatever the answer, unless the
// misconfiguration evidence stops it. The caller's own cancellation is
// never retried.
func Decide(kind Kind, err error) Verdict {
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) && !isTimeout(err) {
		return GiveUp
	}
	if tlsFailure(err) {
		return Misconfigured
	}
	var ae *APIError
	var te *TokenError
	if errors.As(err, &te) {
		// The call itself was never sent, so it may be retried whatever it
		// is, unless the server refused the key or has no token endpoint.
		if errors.As(err, &ae) && (ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden ||
			ae.StatusCode == http.StatusNotFound || ae.StatusCode < 500 && isHTMLType(ae.ContentType)) {
			return Misconfigured
		}
		if errors.As(err, &ae) && ae.StatusCode < 500 && ae.StatusCode != http.StatusTooManyRequests && ae.StatusCode != http.StatusRequestTimeout {
			return GiveUp
		}
		return Always
	}
	if errors.As(err, &ae) {
		return decideStatus(kind, ae)
	}
	var de *DecodeError
	if errors.As(err, &de) && isHTMLType(de.ContentType) {
		if kind == Poll {
			return Misconfigured
		}
		return GiveUp
	}
	if errors.Is(err, ErrDecode) || errors.Is(err, ErrResponseTooLarge) {
		if kind == Result || kind == Poll {
			return Always
		}
		return GiveUp
	}
	if IsDialError(err) {
		return Always
	}
	// A timeout or a reset: the request may have reached the server.
	if kind == Write {
		return GiveUp
	}
	return Always
}

func decideStatus(kind Kind, ae *APIError) Verdict {
	s := ae.StatusCode
	switch {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return Misconfigured
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		return Always
	case s == http.StatusRequestTimeout:
		if kind == Result || kind == Poll {
			return Always
		}
		return GiveUp
	case s < 500 && isHTMLType(ae.ContentType) || s == http.StatusNotFound:
		if kind == Poll {
			return Misconfigured
		}
		return GiveUp
	case s < 500:
		if kind == Poll {
			return Always
		}
		return GiveUp
	}
	// 5xx
	if kind == Write {
		return GiveUp
	}
	if kind == Poll {
		return Always
	}
	switch {
	case s == http.StatusBadGateway || s == http.StatusGatewayTimeout:
		return Always
	case ae.ServerRetryable != nil && *ae.ServerRetryable:
		return Always
	case kind != Result:
		return GiveUp
	case ae.ServerRetryable != nil:
		return Few
	}
	return Always
}

// Retryable reports whether sending a request of that kind again may
// succeed after an answer with that status and no Conductor error body:
// Decide's verdict is Always or Few.
func Retryable(kind Kind, status int) bool {
	v := Decide(kind, &APIError{StatusCode: status})
	return v == Always || v == Few
}

// IsDialError reports a failure to connect: the request never left.
func IsDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isHTMLType(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "text/html")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// tlsFailure reports a certificate the client does not trust, one for
// another host, or a server that does not speak TLS.
func tlsFailure(err error) bool { return TLSHint(err) != "" }

// TLSHint is the likely fix of a TLS failure (a certificate the client does
// not trust, one for another host, a server that does not speak TLS), or ""
// when err is none of those. sdk/worker puts it in a misconfiguration error.
func TLSHint(err error) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &hostErr):
		return "the server's certificate is for another host name: check the base URL's host or set HttpSettings.TLS.ServerName"
	case errors.As(err, &unknownCA), errors.As(err, &invalid), errors.As(err, &verify):
		return "the server's certificate is not trusted: set HttpSettings.TLS.CAFile (or CAPEM) to the CA that signed it"
	case errors.As(err, &record):
		return "the server does not speak TLS on this port: should the base URL start with http:// instead of https://?"
	}
	return ""
}
