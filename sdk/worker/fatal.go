package worker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/client"
)

// A worker whose configuration is wrong would otherwise poll for ever: every
// answer is the same 404 or 401, the runner backs off and tries again, and
// the deployment looks healthy while it does nothing. This file stops such a
// worker instead, but only on answers that cannot fix themselves:
//
//   - 404 to a poll. Conductor answers a poll for a task type it does not
//     know with 200 and an empty list (204 before 3.21.20), never 404, so a
//     404 means the request did not reach the task API: most often a base
//     URL without /api, which Spring answers with "No static resource ...".
//   - An HTML answer to a poll: a web page (the UI, a proxy's error page)
//     where the API was expected.
//   - 401 or 403 after the client has fetched a fresh token (the client
//     refreshes once on a rejected token before it returns the error), or
//     a token request the server refuses or does not know (404 on /token:
//     a key given to a server without authentication).
//   - A TLS failure: an untrusted or mismatched certificate, or plain HTTP
//     where https:// was configured.
//
// Everything else (connection refused, DNS, timeouts, 5xx, 429, garbled
// JSON) can end by itself and is retried with backoff as before.
//
// A single answer is not enough: a proxy or an ingress may answer 404 for a
// moment while a deployment switches over. The worker stops once at least
// fatalStrikes consecutive failed polls, spread over at least fatalSpan,
// all prove the configuration wrong; with the poll backoff that is about
// six polls and three seconds, well within the 20 s a user should wait to
// hear that the URL or the key is wrong.

const (
	// fatalStrikes is the fewest consecutive misconfiguration answers that
	// stop a worker.
	fatalStrikes = 3
	// fatalSpan is how long such answers must have lasted.
	fatalSpan = 3 * time.Second
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

func (e *ConfigError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrMisconfigured) true.
func (e *ConfigError) Is(target error) bool { return target == ErrMisconfigured }

// misconfiguration is the one classifier of this file: it returns the
// ConfigError (without the worker's names) that err proves, or nil when err
// may go away by itself. base is the client's base URL ("" when unknown).
func misconfiguration(err error, base string) *ConfigError {
	if err == nil {
		return nil
	}
	if hint := tlsHint(err); hint != "" {
		return &ConfigError{URL: base, Hint: hint, Err: err}
	}
	var ae *client.APIError
	if errors.As(err, &ae) {
		u := requestURL(base, ae.Path)
		isToken := strings.HasSuffix(ae.Path, "/token")
		switch {
		case isToken && (ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden):
			return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
				Hint: "the server refused the key: check the key id and secret (CONDUCTOR_AUTH_KEY, CONDUCTOR_AUTH_SECRET)"}
		case isToken && ae.StatusCode == http.StatusNotFound:
			return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
				Hint: "the server has no token endpoint: Conductor OSS needs no key (leave the key id and secret empty); otherwise " + baseHint(base)}
		case ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden:
			return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
				Hint: "the server refused the request with a fresh token (or without one): check the key id and secret, and that the application may poll this task type"}
		case isHTML(ae.Body) && strings.Contains(ae.Path, "/tasks/poll") && !retryableStatus(ae.StatusCode):
			// A proxy's error page for 5xx, 408 or 429 is an outage, not
			// a wrong URL.
			return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
				Hint: "the answer is a web page, not Conductor's API: " + baseHint(base)}
		case ae.StatusCode == http.StatusNotFound && strings.Contains(ae.Path, "/tasks/poll"):
			return &ConfigError{URL: u, Status: ae.StatusCode, Err: err,
				Hint: "Conductor answers a poll with an empty list, never 404, so the request did not reach the task API: " + baseHint(base)}
		}
		return nil
	}
	// A 200 answer that is HTML: the client reports it as undecodable and
	// names the content type.
	if errors.Is(err, client.ErrDecode) && strings.Contains(err.Error(), "/tasks/poll") && strings.Contains(err.Error(), `"text/html`) {
		return &ConfigError{URL: base, Status: http.StatusOK, Err: err,
			Hint: "the answer is a web page, not Conductor's API: " + baseHint(base)}
	}
	return nil
}

// baseHint is the likely fix of a base URL that does not reach the API.
func baseHint(base string) string {
	if base != "" && !strings.HasSuffix(strings.TrimRight(base, "/"), "/api") {
		return fmt.Sprintf("does the base URL end in /api? (it is %s)", base)
	}
	return fmt.Sprintf("is the base URL the API root of a Conductor server? (it is %s)", base)
}

func tlsHint(err error) string {
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

// fatalState is a poller's record of misconfiguration answers; only the
// poller's loop touches it.
type fatalState struct {
	strikes   int
	since     time.Time // first answer of the streak
	successes uint64    // successful polls when the streak began
	cancel    context.CancelFunc
}

// checkFatal looks at a failed poll's error; once fatalStrikes consecutive
// failed polls over fatalSpan have proved the configuration wrong it stops
// the worker: one error line, the runner told (TaskRunner.Err and the
// OnFatalError hook), and the loop's context cancelled.
func (p *poller) checkFatal(err error) {
	w := p.w
	ce := misconfiguration(err, p.baseURL)
	successes := w.polls.Load() - w.pollErrors.Load()
	if ce == nil || (p.fatal.strikes > 0 && successes != p.fatal.successes) {
		p.fatal.strikes = 0
	}
	if ce == nil {
		return
	}
	now := p.clock.Now()
	if p.fatal.strikes == 0 {
		p.fatal.successes, p.fatal.since = successes, now
	}
	p.fatal.strikes++
	if p.fatal.strikes < fatalStrikes || now.Sub(p.fatal.since) < fatalSpan {
		return
	}
	ce.TaskType, ce.Domain = w.key.taskType, w.key.domain
	w.fatalMu.Lock()
	w.fatalErr = ce
	w.fatalMu.Unlock()
	fields := logrus.Fields{"url": ce.URL}
	if ce.Status != 0 {
		fields["status"] = ce.Status
	}
	w.log.WithFields(fields).Error(ce.Error())
	if p.stopped != nil {
		p.stopped(ce)
	}
	if p.fatal.cancel != nil {
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
// consecutive polls over about three seconds answered 404, answered with a
// web page, refused with 401/403 after a fresh token, or failing TLS
// verification; WaitWorkers
// returns once every worker has stopped. An unreachable or failing server
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
