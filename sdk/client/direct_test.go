package client

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// The hot calls (Poll, BatchPoll, UpdateTask, UpdateTaskV2) skip resty's
// pipeline and send on its http.Client directly. The tests below hold the
// two lanes to the same behaviour: the same call through each must put the
// same request on the wire and come back with the same result or error.

// wireRequest is a request as the server saw it.
type wireRequest struct {
	Method, Host, URI string
	Header            http.Header
	ContentLength     int64
	Body              string
}

// wireLog records requests, from one or more servers.
type wireLog struct {
	mu   sync.Mutex
	reqs []wireRequest
}

func (l *wireLog) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		l.reqs = append(l.reqs, wireRequest{Method: r.Method, Host: r.Host, URI: r.RequestURI, Header: r.Header.Clone(), ContentLength: r.ContentLength, Body: string(b)})
		l.mu.Unlock()
		h(w, r)
	}
}

func (l *wireLog) take() []wireRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

// laneOutcome is everything a caller (and an observer) can see of one send.
type laneOutcome struct {
	Requests []wireRequest
	Status   int
	Body     string
	CType    string
	Err      string
	Sentinel map[string]bool
	APIError *APIError
	Observed []string
}

const laneToken = "tok-lane-4711"

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = io.WriteString(zw, s)
	_ = zw.Close()
	return b.Bytes()
}

func TestBothLanesSendAndReadTheSame(t *testing.T) {
	log := &wireLog{}
	// elsewhere is another origin (localhost instead of 127.0.0.1): a
	// redirect there must lose the token.
	elsewhere := httptest.NewServer(log.wrap(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, []model.Task{{TaskId: "moved"}}) }))
	defer elsewhere.Close()
	elsewhereURL := strings.Replace(elsewhere.URL, "127.0.0.1", "localhost", 1)

	longBody := strings.Repeat("x", maxErrorBody-5) + laneToken + " and " + testSecret + strings.Repeat("y", 2000)
	answers := map[string]http.HandlerFunc{
		"json": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, []model.Task{{TaskId: "t1", InputData: map[string]interface{}{"n": 1}}})
		},
		"no content": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
		"text":       func(w http.ResponseWriter, r *http.Request) { writeText(w, "task-9") },
		"validation": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			writeJSON(w, 400, map[string]interface{}{
				"message": "Validation failed for " + r.Header.Get(authHeader) + " / " + testSecret,
				"validationErrors": []map[string]interface{}{
					{"path": "updateTask.arg0.taskId", "message": "must not be blank", "invalidValue": ""},
					{"path": "updateTask.arg0.status", "message": "bad"}, {"path": "a", "message": "b"}, {"path": "c", "message": "d"},
				},
			})
		},
		"token refused": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 403, map[string]string{"error": "EXPIRED_TOKEN", "message": "token expired"})
		},
		"long error": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, longBody)
		},
		"not 2xx without error": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusMultipleChoices)
			_, _ = io.WriteString(w, "choose")
		},
		"too large": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `["`+strings.Repeat("z", 70<<10)+`"]`)
		},
		"endless": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			chunk := []byte(strings.Repeat(`{"taskId":"x"},`, 1000))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
		"exactly the cap": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, strings.Repeat("c", 64<<10))
		},
		"one over the cap": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, strings.Repeat("c", 64<<10+1))
		},
		"gzip": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gzipped(`[{"taskId":"zipped"}]`))
		},
		"cut off": func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{\"taskId\"")
			_ = buf.Flush()
			_ = conn.Close()
		},
		"redirect away": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhereURL+"/api/elsewhere", http.StatusTemporaryRedirect)
		},
		"redirect home": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/moved" {
				writeJSON(w, 200, []model.Task{{TaskId: "home"}})
				return
			}
			http.Redirect(w, r, "/api/moved", http.StatusPermanentRedirect)
		},
		"slow": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		},
	}
	shapes := map[string]call{
		"batch poll": {method: http.MethodGet, route: "/tasks/poll/batch/{taskType}", pathParams: map[string]string{"taskType": "a/b c%?#é"},
			query: url.Values{"count": {"3"}, "workerid": {"w 1"}, "domain": {"blue"}}},
		"poll, empty query": {method: http.MethodGet, route: "/tasks/poll/{taskType}", pathParams: map[string]string{"taskType": "t"}, query: url.Values{}},
		"update":            {method: http.MethodPost, route: "/tasks", body: []byte(`{"taskId":"t1","status":"COMPLETED"}`)},
		"update v2":         {method: http.MethodPost, route: "/tasks/update-v2", body: []byte(`{"taskId":"t1"}`)},
		"text body":         {method: http.MethodPost, route: "/tasks/{taskId}/log", pathParams: map[string]string{"taskId": "t 1"}, body: []byte("a line"), ctype: "text/plain"},
		"delete":            {method: http.MethodDelete, route: "/workflow/{workflowId}", pathParams: map[string]string{"workflowId": "w/1"}, query: url.Values{"reason": {"r&x y"}}},
		"get with body":     {method: http.MethodGet, route: "/tasks/{taskId}", pathParams: map[string]string{"taskId": "t"}, body: []byte(`{}`)},
		"unknown parameter": {method: http.MethodGet, route: "/tasks/{taskId}/{other}", pathParams: map[string]string{"taskId": "t"}},
	}
	headerSets := map[string]map[string]string{
		"custom headers": {"X-Tenant": "acme", "accept": "application/json", "X-Authorization": "overridden-by-the-token"},
		// The transport leaves gzip to the client when the caller asked for
		// it; empty User-Agent and Accept get resty's defaults; Host names
		// the virtual host.
		"odd headers": {"Accept-Encoding": "gzip", "User-Agent": "", "Accept": "", "Host": "virtual.example:81", "Content-Type": "application/xml"},
	}
	for answer, handler := range answers {
		srv := httptest.NewServer(log.wrap(handler))
		for shape, cl := range shapes {
			if (answer == "slow" || answer == "endless" || answer == "cut off") && shape != "batch poll" && shape != "update" {
				continue // enough to show the failure is the same
			}
			for hname, headers := range headerSets {
				name := answer + "/" + shape + "/" + hname
				var got [2]laneOutcome
				for i, direct := range []bool{false, true} {
					cl := cl
					cl.direct = direct
					got[i] = sendThroughLane(t, log, srv.URL, headers, answer, cl)
				}
				if !reflect.DeepEqual(got[0], got[1]) {
					t.Errorf("%s: the lanes differ\nresty:  %s\ndirect: %s", name, describe(got[0]), describe(got[1]))
					continue
				}
				checkLaneOutcome(t, name, answer, hname, got[1])
			}
		}
		srv.Close()
	}
}

func sendThroughLane(t *testing.T, log *wireLog, base string, headers map[string]string, answer string, cl call) laneOutcome {
	t.Helper()
	h := settings.NewHttpSettings(base + "/api")
	for k, v := range headers {
		h.Headers[k] = v
	}
	if answer == "slow" {
		h.Timeout = 100 * time.Millisecond
	}
	obs := &recObserver{}
	c, err := New(settings.NewAuthenticationSettings("key", testSecret), h, WithObserver(obs), WithMaxResponseBytes(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	resp, err := c.send(context.Background(), cl, laneToken)
	out := laneOutcome{Requests: log.take()}
	if err != nil {
		out.Err = err.Error()
		out.Sentinel = map[string]bool{}
		for name, s := range map[string]error{"notfound": ErrNotFound, "unauthorized": ErrUnauthorized, "badrequest": ErrBadRequest,
			"toolarge": ErrResponseTooLarge, "deadline": context.DeadlineExceeded, "eof": io.ErrUnexpectedEOF} {
			out.Sentinel[name] = errors.Is(err, s)
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			out.APIError = apiErr
		}
	} else {
		out.Status, out.Body, out.CType = resp.status, string(resp.body), resp.ctype
	}
	obs.mu.Lock()
	out.Observed = obs.requests
	obs.mu.Unlock()
	return out
}

func describe(o laneOutcome) string {
	var b strings.Builder
	for _, r := range o.Requests {
		fmt.Fprintf(&b, "\n  %s %s host=%s len=%d body=%q header=%v", r.Method, r.URI, r.Host, r.ContentLength, r.Body, r.Header)
	}
	body := o.Body
	if len(body) > 100 {
		body = body[:100] + "..."
	}
	fmt.Fprintf(&b, "\n  -> status=%d ctype=%q body=%q err=%q sentinels=%v observed=%v", o.Status, o.CType, body, o.Err, o.Sentinel, o.Observed)
	if o.APIError != nil {
		fmt.Fprintf(&b, "\n  APIError=%+v", *o.APIError)
	}
	return b.String()
}

// checkLaneOutcome asserts what the user cares about, on top of the two
// lanes agreeing: token and headers where they belong, redaction, the cap.
func checkLaneOutcome(t *testing.T, name, answer, hname string, o laneOutcome) {
	t.Helper()
	for _, s := range []string{o.Err, fmt.Sprintf("%+v", o.APIError)} {
		if strings.Contains(s, laneToken) || strings.Contains(s, testSecret) {
			t.Errorf("%s: the token or the secret leaked into %q", name, s)
		}
	}
	if len(o.Requests) == 0 {
		t.Fatalf("%s: no request reached the server", name)
	}
	first := o.Requests[0]
	if got := first.Header.Get(authHeader); got != laneToken {
		t.Errorf("%s: X-Authorization = %q, want the token", name, got)
	}
	if hname == "custom headers" && (first.Header.Get("X-Tenant") != "acme" || first.Header.Get("User-Agent") != userAgent || len(first.Header.Values("Accept")) != 1) {
		t.Errorf("%s: headers %v", name, first.Header)
	}
	if hname == "odd headers" && first.Host != "virtual.example:81" {
		t.Errorf("%s: Host = %q", name, first.Host)
	}
	switch answer {
	case "redirect away":
		if len(o.Requests) != 2 || o.Requests[1].Header.Get(authHeader) != "" {
			t.Errorf("%s: the token followed a redirect to another host: %s", name, describe(o))
		}
	case "redirect home":
		if len(o.Requests) != 2 || o.Requests[1].Header.Get(authHeader) != laneToken {
			t.Errorf("%s: a redirect on the same origin lost the token: %s", name, describe(o))
		}
	case "too large", "endless", "one over the cap":
		if !o.Sentinel["toolarge"] {
			t.Errorf("%s: err = %q, want ErrResponseTooLarge", name, o.Err)
		}
	case "exactly the cap":
		if len(o.Body) != 64<<10 {
			t.Errorf("%s: a body of exactly the cap was not read whole: %d bytes, err %q", name, len(o.Body), o.Err)
		}
	case "gzip":
		if !strings.Contains(o.Body, "zipped") {
			t.Errorf("%s: gzip answer not decoded: %s", name, describe(o))
		}
	case "validation":
		e := o.APIError
		if e == nil || e.RetryAfter != 7*time.Second || !strings.Contains(e.Message, "updateTask.arg0.taskId: must not be blank (got )") ||
			!strings.Contains(e.Message, "and 1 more") || !strings.Contains(e.Message, "[redacted]") || !o.Sentinel["badrequest"] {
			t.Errorf("%s: %s", name, describe(o))
		}
	case "long error":
		if e := o.APIError; e == nil || len(e.Body) != maxErrorBody || e.RetryAfter != 2*time.Second || e.StatusCode != 503 {
			t.Errorf("%s: %s", name, describe(o))
		}
	case "slow":
		if !o.Sentinel["deadline"] {
			t.Errorf("%s: err = %q, want a deadline", name, o.Err)
		}
	}
}

// TestHotCallsTakeTheDirectLane checks which calls skip resty: a resty hook
// sees the others, never the hot ones.
func TestHotCallsTakeTheDirectLane(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, model.Task{TaskId: "t"}) })
	c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
	var viaResty atomic.Int32
	c.rc.OnBeforeRequest(func(*resty.Client, *resty.Request) error { viaResty.Add(1); return nil })
	ctx := context.Background()
	r := &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask}
	if _, err := c.Tasks().Poll(ctx, "t", "w", ""); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1}) // a task object is no list: ErrDecode
	if err := c.Tasks().UpdateTask(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tasks().WithoutRetries().UpdateTaskV2(ctx, r); err != nil {
		t.Fatal(err)
	}
	if n := viaResty.Load(); n != 0 || len(f.requests()) != 4 {
		t.Fatalf("%d of the hot calls went through resty (%d requests)", n, len(f.requests()))
	}
	if _, err := c.Tasks().GetTask(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if viaResty.Load() != 1 {
		t.Fatal("GetTask did not go through resty")
	}
}

// TestHotCallsWithAuthentication drives the public hot calls against a
// server that checks the token: the custom header and the token arrive, a
// rejected token is refreshed, an error that quotes them is redacted, the
// size cap holds and the token does not follow a redirect away.
func TestHotCallsWithAuthentication(t *testing.T) {
	var leaked atomic.Value
	leaked.Store("")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get(authHeader))
		writeJSON(w, 200, []model.Task{})
	}))
	defer other.Close()
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)

	s := newAuthServer(t)
	var mode atomic.Value
	mode.Store("")
	var tenants atomic.Int32
	s.answer = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Tenant") == "acme" && r.Header.Get("User-Agent") == userAgent {
			tenants.Add(1)
		}
		switch mode.Load().(string) {
		case "echo":
			writeJSON(w, 400, map[string]string{"message": "refused " + r.Header.Get(authHeader) + " for key " + testSecret})
		case "huge":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `"`+strings.Repeat("h", 80<<10)+`"`)
		case "redirect":
			http.Redirect(w, r, otherURL+r.URL.Path, http.StatusTemporaryRedirect)
		default:
			w.WriteHeader(204)
		}
	}
	h := settings.NewHttpSettings(s.URL + "/api")
	h.Headers["X-Tenant"] = "acme"
	c, err := New(settings.NewAuthenticationSettings("key", testSecret), h, fastRetry(), WithMaxResponseBytes(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()
	r := &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask}
	hot := map[string]func() error{
		"Poll":      func() error { _, err := c.Tasks().Poll(ctx, "t", "w", ""); return err },
		"BatchPoll": func() error { _, err := c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1}); return err },
		"UpdateTask": func() error {
			return c.Tasks().UpdateTask(ctx, r)
		},
		"UpdateTaskV2": func() error { _, err := c.Tasks().UpdateTaskV2(ctx, r); return err },
	}
	for name, fn := range hot {
		mode.Store("")
		before := tenants.Load()
		s.current.Store("revoked") // the first attempt gets a 401: refresh, send again
		issued := s.issued.Load()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.issued.Load() != issued+1 || tenants.Load() != before+1 {
			t.Errorf("%s: tokens issued %d -> %d, requests with the custom headers %d -> %d", name, issued, s.issued.Load(), before, tenants.Load())
		}

		mode.Store("echo")
		err := fn()
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Message != "refused [redacted] for key [redacted]" {
			t.Errorf("%s: err = %v", name, err)
		}
		leakCheck(t, name, err)

		mode.Store("huge")
		if err := fn(); !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("%s: err = %v, want ErrResponseTooLarge", name, err)
		}

		mode.Store("redirect")
		_ = fn()
		if got := leaked.Load().(string); got != "" {
			t.Errorf("%s: the token %q followed a redirect to another host", name, got)
		}
	}
}

// readCapped must take any reader, also one that hands out a byte at a time.
func TestReadCapped(t *testing.T) {
	for _, tc := range []struct {
		body  string
		limit int
		size  int64
		err   error
	}{
		{"", 10, 0, nil},
		{"abc", 3, 3, nil},
		{"abc", 3, -1, nil},
		{"abcd", 3, -1, resty.ErrResponseBodyTooLarge},
		{"abcd", 3, 4, resty.ErrResponseBodyTooLarge},
		{strings.Repeat("q", 5000), 5000, 10, nil}, // a wrong announced size only sizes the buffer
		{strings.Repeat("q", 5000), 0, -1, nil},    // no limit
	} {
		for _, r := range []io.Reader{strings.NewReader(tc.body), bufio.NewReaderSize(io.LimitReader(strings.NewReader(tc.body), 1<<20), 16), oneByte{strings.NewReader(tc.body)}} {
			got, err := readCapped(r, tc.limit, tc.size)
			if err != tc.err || (err == nil && string(got) != tc.body) {
				t.Errorf("%d bytes, limit %d, size %d, %T: %d bytes, %v", len(tc.body), tc.limit, tc.size, r, len(got), err)
			}
		}
	}
	failing := io.MultiReader(strings.NewReader("ab"), errReader{io.ErrUnexpectedEOF})
	if _, err := readCapped(failing, 10, -1); err != io.ErrUnexpectedEOF {
		t.Errorf("read error: %v", err)
	}
}

type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestExpandRoute(t *testing.T) {
	for route, want := range map[string]string{
		"/tasks":                        "/tasks",
		"/tasks/poll/batch/{taskType}":  "/tasks/poll/batch/a%2Fb%20c",
		"/x/{taskType}/{missing}/{}/{":  "/x/a%2Fb%20c/{missing}/{}/{",
		"/{taskType}{taskType}/{id}/y}": "/a%2Fb%20ca%2Fb%20c/%3F%23/y}",
	} {
		if got := expandRoute(route, map[string]string{"taskType": "a/b c", "id": "?#"}); got != want {
			t.Errorf("%s: %s, want %s", route, got, want)
		}
	}
}
