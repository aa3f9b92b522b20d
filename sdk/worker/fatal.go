package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/retry"
	"github.com/baton-go/baton/sdk/client"
)

// A worker whose configuration is wrong would otherwise poll for ever: every
// answer is the same 404 or 401, the runner backs off and tries again, and
// the deployment looks healthy while it does nothing. This file stops such a
// worker instead, but only on answers that cannot fix themselves, which the
// client's failure table (retry.Decide) marks Misconfigured:
//
//   - 404 to a poll. Conductor answers a poll for a task type it does not
//     know with 200 and an empty list (204 before 3.21.20), never 404, so a
//     404 means the request did not reach the task API: most often a base
//     URL without /api, which Spring answers with "No static resource ...".
//   - A web page (text/html) in answer to a poll: the UI, or a proxy's page.
//   - 401 or 403 after the client has fetched a fresh token (the client
//     refreshes once on a rejected token before it returns the error), to
//     a poll or to a result, or a token request the server refuses or does
//     not know (404 on /token: a key given to a server without
//     authentication).
//   - A TLS failure: an untrusted or mismatched certificate, or plain HTTP
//     where https:// was configured.
//
// Everything else (connection refused, DNS, timeouts, 5xx, 429, garbled
// JSON) can end by itself and is retried with backoff as before.
//
// A single answer is not enough, and neither is a short streak: a proxy may
// answer 404 for a moment while a deployment switches over, an identity
// provider restarts, a key is rotated. The rule is the same for polls and
// results, which share one record per worker: the worker stops once at
// least fatalStrikes consecutive failed calls, spread over at least
// fatalSpan, all prove the configuration wrong; any accepted poll or
// result in between starts the count again. With the poll backoff that is
// about eight polls and fifteen seconds.
//
// A stopped worker does not try again later. Its process is better off
// ending: WaitWorkers returns, Err says why, the readiness probe turns 503,
// and the orchestrator restarts the process with its own backoff, which is
// also what re-reads a corrected URL, key or certificate; a worker that
// quietly kept retrying would look alive while doing nothing, the failure
// this file exists to prevent.

const (
	// fatalStrikes is the fewest consecutive misconfiguration answers that
	// stop a worker.
	fatalStrikes = 3
	// fatalSpan is how long such answers must have lasted: longer than an
	// identity provider's restart or a key rotation's gap.
	fatalSpan = 15 * time.Second
)

// ErrMisconfigured matches (errors.Is) the error a worker stops with when the
// server's answers prove that the runner's configuration is wrong; the error
// itself is a *ConfigError.
var ErrMisconfigured = errors.New("worker: misconfigured")

// ConfigError is why a worker stopped polling on its own: the server's answers
// prove that the base URL, the credentials or the TLS settings are wrong, so
// retrying cannot help. It is returned by TaskRunner.Err, passed to
// Hooks.OnFatalError and logged once at error level. It never contains the
// key secret or a token.
type ConfigError struct {
	// TaskType and Domain name the worker that stopped.
	TaskType string
	Domain   string
	// URL is the request that proved it, without query or credentials.
	URL string
	// Status is the HTTP status of the answer; 0 for a TLS failure.
	Status int
	// Hint is the likely fix, e.g. "does the base URL end in /api?".
	Hint string
	// Err is the error of the last poll.
	Err error
}

// Error names the URL, what the server answered and the likely fix.
func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "worker: stopped polling %q: ", e.TaskType)
	if e.Status != 0 {
		fmt.Fprintf(&b, "%s answered %d %s", e.URL, e.Status, http.StatusText(e.Status))
	} else {
		fmt.Fprintf(&b, "%s failed", e.URL)
	}
	fmt.Fprintf(&b, ": %s (%v)", e.Hint, e.Err)
	return b.String()
}

// Unwrap returns the error of the last poll.
func (e *ConfigError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrMisconfigured) true.
func (e *ConfigError) Is(target error) bool { return target == ErrMisconfigured }

// misconfiguration returns the ConfigError (without the worker's names)
// that err, the error of a call of that kind, proves, or nil when the
// failure table (retry.Decide) says err may go away by itself. base is the
// client's base URL ("" when unknown).
func misconfiguration(err error, kind retry.Kind, base string) *ConfigError {
	if err == nil || retry.Decide(kind, err) != retry.Misconfigured {
		return nil
	}
	if hint := retry.TLSHint(err); hint != "" {
		return &ConfigError{URL: base, Hint: hint, Err: err}
	}
	var ae *client.APIError
	var de *retry.DecodeError
	switch {
	case errors.As(err, &ae):
		u := requestURL(base, ae.Path)
		switch {
		case errors.As(err, new(*retry.TokenError)) && ae.StatusCode == http.StatusNotFound:
			return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
				Hint: "the server has no token endpoint: Conductor OSS needs no key (leave the key id and secret empty); otherwise " + baseHint(base)}
		case errors.As(err, new(*retry.TokenError)) && (ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden):
			return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
				Hint: "the server refused the key: check the key id and secret (CONDUCTOR_AUTH_KEY, CONDUCTOR_AUTH_SECRET)"}
		case ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden:
			return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
				Hint: "the server refused the request with a fresh token (or without one): check the key id and secret, and that the application may poll this task type"}
		case isHTMLType(ae.ContentType) || isHTML(ae.Body):
			return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
				Hint: "the answer is a web page, not Conductor's API: " + baseHint(base)}
		}
		return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
			Hint: "Conductor answers a poll with an empty list, never 404, so the request did not reach the task API: " + baseHint(base)}
	case errors.As(err, &de):
		// A 200 answer that is a web page.
		return &ConfigError{URL: base, Status: http.StatusOK, Err: err,
			Hint: "the answer is a web page, not Conductor's API: " + baseHint(base)}
	}
	return &ConfigError{URL: base, Err: err, Hint: "the server's answers prove the configuration wrong"}
}

func isHTMLType(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "text/html")
}

// baseHint is the likely fix of a base URL that does not reach the API.
func baseHint(base string) string {
	if base != "" && !strings.HasSuffix(strings.TrimRight(base, "/"), "/api") {
		return fmt.Sprintf("does the base URL end in /api? (it is %s)", base)
	}
	return fmt.Sprintf("is the base URL the API root of a Conductor server? (it is %s)", base)
}

func isHTML(body []byte) bool {
	s := strings.ToLower(strings.TrimSpace(string(body[:min(len(body), 64)])))
	return strings.HasPrefix(s, "<!doctype html") || strings.HasPrefix(s, "<html")
}

// requestURL is base's scheme and host with path; no query, no user info.
func requestURL(base, path string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return path
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}).String()
}

// fatalState is the poller's part: the cancel of its loop, which it
// registers when its loop starts.
type fatalState struct {
	cancel context.CancelFunc
}

// fatalTracker is one worker's record of misconfiguration answers, shared
// by its poller and its reporter (the same evidence rule for both), and
// why the worker stopped.
type fatalTracker struct {
	mu       sync.Mutex
	strikes  int
	since    time.Time // first answer of the streak
	okMark   uint64    // accepted calls when the streak began
	err      *ConfigError
	done     chan struct{} // closed when the worker stops; made lazily
	accepted atomic.Uint64 // results the server accepted

	// set by the runner when it builds the worker
	stopPolling context.CancelFunc // ends the poller's loop
	stopped     func(*ConfigError) // the runner's addFatal
	base        string
}

// doneCh is closed once the worker has stopped on a misconfiguration.
func (f *fatalTracker) doneCh() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		f.done = make(chan struct{})
	}
	return f.done
}

// stoppedErr is why the worker stopped, or nil.
func (f *fatalTracker) stoppedErr() *ConfigError {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// evidence records the error of a failed call of that kind. Once
// fatalStrikes consecutive failures over fatalSpan have proved the
// configuration wrong, it stops the worker: one error line, the runner told
// (TaskRunner.Err and the OnFatalError hook), the poller's loop ended and
// every delivery still retrying given up. It returns the ConfigError once
// the worker has stopped (now or before), nil otherwise.
func (w *workerState) evidence(err error, kind retry.Kind, now time.Time) *ConfigError {
	f := &w.fatal
	f.mu.Lock()
	if f.err != nil {
		defer f.mu.Unlock()
		return f.err
	}
	ce := misconfiguration(err, kind, f.base)
	ps := w.pollState.Load()
	oks := ps.polls - ps.pollErrors + f.accepted.Load()
	if ce == nil || (f.strikes > 0 && oks != f.okMark) {
		f.strikes = 0
	}
	if ce == nil {
		f.mu.Unlock()
		return nil
	}
	if f.strikes == 0 {
		f.okMark, f.since = oks, now
	}
	f.strikes++
	if f.strikes < fatalStrikes || now.Sub(f.since) < fatalSpan {
		f.mu.Unlock()
		return nil
	}
	ce.TaskType, ce.Domain = w.key.taskType, w.key.domain
	f.err = ce
	if f.done == nil {
		f.done = make(chan struct{})
	}
	close(f.done)
	stopped, stopPolling := f.stopped, f.stopPolling
	f.mu.Unlock()
	fields := logrus.Fields{"url": ce.URL}
	if ce.Status != 0 {
		fields["status"] = ce.Status
	}
	w.log.WithFields(fields).Error(ce.Error())
	if stopped != nil {
		stopped(ce)
	}
	if stopPolling != nil {
		stopPolling()
	}
	return ce
}

// checkFatal hands a failed poll's error to the worker's evidence (above);
// when the worker stops, the poller's loop ends.
func (p *poller) checkFatal(err error) {
	if p.w.evidence(err, retry.Poll, p.clock.Now()) != nil && p.fatal.cancel != nil {
		p.fatal.cancel()
	}
}

// addFatal records why a worker stopped and calls the hook.
func (r *TaskRunner) addFatal(ce *ConfigError) {
	r.fatalMu.Lock()
	r.fatalErrs = append(r.fatalErrs, ce)
	r.fatalMu.Unlock()
	if h := r.hooks.OnFatalError; h != nil {
		h(ce.TaskType, ce)
	}
}

// Err returns why workers stopped on their own, or nil: a *ConfigError
// (matching ErrMisconfigured) for each worker whose server answers proved
// the configuration wrong, joined. A worker stops that way after a few
// consecutive polls or result posts over about fifteen seconds answered
// 404 (polls), answered with a web page, were refused with 401/403 after a
// fresh token, or failed TLS verification; results it could not deliver
// are then given up, WaitWorkers returns once every worker has stopped, and
// StatusHandler answers 503 with the reason. An unreachable or failing server
// (connection refused, timeouts, 5xx, 429) never stops a worker: it is
// retried with backoff and shown in Workers.
func (r *TaskRunner) Err() error {
	r.fatalMu.Lock()
	defer r.fatalMu.Unlock()
	return errors.Join(r.fatalErrs...)
}

// serverURL is implemented by taskAPIs that know their base URL, for the
// messages of ConfigError.
type serverURL interface{ serverURL() string }

func (c *clientAPI) serverURL() string { return c.base }
