package client

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/baton-go/baton/internal/retry"
)

// answerClasses are the rows of the failure table: one example error for
// each class of answer, named as in RELIABILITY.md's "Failure model".
func answerClasses() map[string]error {
	yes, no := true, false
	api := func(status int) *APIError { return &APIError{StatusCode: status, Method: "POST", Path: "/api/x"} }
	withFlag := func(flag *bool) *APIError { e := api(500); e.ServerRetryable = flag; return e }
	html := api(405)
	html.ContentType = "text/html; charset=utf-8"
	return map[string]error{
		"400, 409, 413, other 4xx":                api(400),
		"401, 403 after one token refresh":        api(401),
		"404":                                     api(404),
		"408":                                     api(408),
		"429 (Retry-After honoured)":              api(429),
		`500 with "retryable": true`:              withFlag(&yes),
		`500 with "retryable": false`:             withFlag(&no),
		"5xx without Conductor's body":            api(500),
		"502, 504":                                api(502),
		"503":                                     api(503),
		"web page (text/html) with 2xx or 4xx":    html,
		"connection refused, DNS (never sent)":    &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		"timeout after sending":                   fmt.Errorf("conductor: POST /api/x: %w", context.DeadlineExceeded),
		"connection reset after sending":          &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET},
		"2xx that cannot be decoded":              &retry.DecodeError{Endpoint: "GET /api/x", ContentType: "application/json", Err: errors.New("unexpected end of JSON input")},
		"TLS: certificate not trusted":            x509.UnknownAuthorityError{},
		"token request: 401, 403, 404":            &retry.TokenError{Err: api(401)},
		"token request: 408, 429, 5xx, no answer": &retry.TokenError{Err: api(503)},
		"token request: other 4xx":                &retry.TokenError{Err: api(400)},
	}
}

var tableKinds = []retry.Kind{retry.Read, retry.Write, retry.Result, retry.Poll}

// TestFailureTable pins the failure table (issue 24): what every class of
// answer means for every kind of call.
func TestFailureTable(t *testing.T) {
	R, F, G, M := retry.Always, retry.Few, retry.GiveUp, retry.Misconfigured
	want := map[string][4]retry.Verdict{ // read, write, result, poll
		"400, 409, 413, other 4xx":                {G, G, G, R},
		"401, 403 after one token refresh":        {M, M, M, M},
		"404":                                     {G, G, G, M},
		"408":                                     {G, G, R, R},
		"429 (Retry-After honoured)":              {R, R, R, R},
		`500 with "retryable": true`:              {R, G, R, R},
		`500 with "retryable": false`:             {G, G, F, R},
		"5xx without Conductor's body":            {G, G, R, R},
		"502, 504":                                {R, G, R, R},
		"503":                                     {R, R, R, R},
		"web page (text/html) with 2xx or 4xx":    {G, G, G, M},
		"connection refused, DNS (never sent)":    {R, R, R, R},
		"timeout after sending":                   {R, G, R, R},
		"connection reset after sending":          {R, G, R, R},
		"2xx that cannot be decoded":              {G, G, R, R},
		"TLS: certificate not trusted":            {M, M, M, M},
		"token request: 401, 403, 404":            {M, M, M, M},
		"token request: 408, 429, 5xx, no answer": {R, R, R, R},
		"token request: other 4xx":                {G, G, G, G},
	}
	classes := answerClasses()
	if len(want) != len(classes) {
		t.Fatalf("%d rows pinned, %d answer classes", len(want), len(classes))
	}
	for name, err := range classes {
		for i, kind := range tableKinds {
			if got := retry.Decide(kind, err); got != want[name][i] {
				t.Errorf("%s, %v: %v, want %v", name, kindName(kind), got, want[name][i])
			}
		}
	}
	// A web page answering 2xx reaches Decide as a DecodeError.
	page := &retry.DecodeError{ContentType: "text/html", Err: errors.New("invalid character '<'")}
	if retry.Decide(retry.Poll, page) != retry.Misconfigured || retry.Decide(retry.Read, page) != retry.GiveUp {
		t.Error("a 2xx web page is not classified like a 4xx one")
	}
	if retry.Decide(retry.Read, context.Canceled) != retry.GiveUp {
		t.Error("the caller's own cancellation must not be retried")
	}
}

func kindName(k retry.Kind) string { return [...]string{"read", "write", "result", "poll"}[k] }

// TestReliabilityDocMatchesTheFailureTable checks that the table in
// RELIABILITY.md ("Failure model") says, cell by cell, what Decide does.
func TestReliabilityDocMatchesTheFailureTable(t *testing.T) {
	doc, err := os.ReadFile("../../RELIABILITY.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- failure-table -->", "<!-- /failure-table -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("RELIABILITY.md has no %s ... %s section", begin, end)
	}
	classes := answerClasses()
	seen := map[string]bool{}
	for _, line := range strings.Split(s[i+len(begin):j], "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 5 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[0]), "`")
		if name == "Answer" || strings.HasPrefix(name, "---") {
			continue
		}
		err, ok := classes[name]
		if !ok {
			t.Errorf("RELIABILITY.md row %q is no answer class of the code", name)
			continue
		}
		seen[name] = true
		for k, kind := range tableKinds {
			if got, doc := retry.Decide(kind, err).String(), strings.TrimSpace(cells[k+1]); got != doc {
				t.Errorf("RELIABILITY.md says %q for %s, %s; the code does %q", doc, name, kindName(kind), got)
			}
		}
	}
	for name := range classes {
		if !seen[name] {
			t.Errorf("RELIABILITY.md's failure table lacks the row %q", name)
		}
	}
}
