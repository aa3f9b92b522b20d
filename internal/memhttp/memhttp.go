// Package memhttp is an in-process stand-in for a server in the SDK's
// tests: an http.RoundTripper that answers each request from a function.
// No socket is opened, so it also works inside a testing/synctest bubble,
// where time is simulated.
package memhttp

import (
	"bytes"
	"io"
	"net/http"
)

// Transport answers a request with a status, a Content-Type ("" sends
// none) and a body. body is the request's body, already read and closed.
type Transport func(r *http.Request, body []byte) (status int, contentType string, answer []byte)

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
	}
	status, ctype, answer := t(r, body)
	h := http.Header{}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(answer)), Request: r, ContentLength: -1}, nil
}

// Client returns an HTTP client whose requests t answers.
func (t Transport) Client() *http.Client { return &http.Client{Transport: t} }
