package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// miniServer answers just enough of the task API over HTTP to check the
// adapter over the real client: polls hand out queued tasks at once, updates
// are recorded, update-v2 is missing (404) unless v2 is set, and the next
// update answers can be scripted.
type miniServer struct {
	mu      sync.Mutex
	queue   []model.Task
	results []model.TaskResult
	v2      bool
	script  map[string][]int // per task id: statuses for its next updates (0 = accept)
	polls   []string
}

func (m *miniServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/"):
		m.polls = append(m.polls, r.URL.RawQuery)
		n := len(m.queue)
		out := m.queue[:n]
		m.queue = nil
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && (r.URL.Path == "/api/tasks" || r.URL.Path == "/api/tasks/update-v2"):
		if r.URL.Path == "/api/tasks/update-v2" && !m.v2 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"status":404,"message":"No static resource api/tasks/update-v2."}`)
			return
		}
		var res model.TaskResult
		if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
			w.WriteHeader(500)
			return
		}
		if sc := m.script[res.TaskId]; len(sc) > 0 {
			code := sc[0]
			m.script[res.TaskId] = sc[1:]
			if code != 0 {
				w.Header().Set("Content-Type", "application/json")
				if code == 429 {
					w.Header().Set("Retry-After", "1")
				}
				w.WriteHeader(code)
				fmt.Fprintf(w, `{"status":%d,"message":"scripted %d"}`, code, code)
				return
			}
		}
		m.results = append(m.results, res)
		if r.URL.Path == "/api/tasks/update-v2" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, res.TaskId)
	default:
		http.NotFound(w, r)
	}
}

func (m *miniServer) resultCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.results)
}

func TestOverRealClient(t *testing.T) {
	ms := &miniServer{script: map[string][]int{"r-0": {503, 429, 500, 0}, "r-1": {404}}}
	srv := httptest.NewServer(ms)
	defer srv.Close()
	var gaveUp []error
	var mu sync.Mutex
	r := NewTaskRunner(nil, settings.NewHttpSettings(srv.URL+"/api"),
		WithLogger(quietLogger()), WithWorkerID("w1"), WithPollTimeout(100*time.Millisecond), WithUpdateV2(true),
		WithHooks(Hooks{OnUpdateGaveUp: func(_ *model.TaskResult, err error) {
			mu.Lock()
			gaveUp = append(gaveUp, err)
			mu.Unlock()
		}}))
	ms.mu.Lock()
	ms.queue = makeTasks("real", "r", 2)
	ms.mu.Unlock()
	if err := r.Start("real", echo, Domain("blue"), BatchSize(2)); err != nil {
		t.Fatal(err)
	}
	// Task r-0: update-v2 missing -> plain update; 503, 429 (Retry-After 1 s)
	// and 500 are retried, then accepted. Task r-1: 404 is final.
	waitFor(t, 30*time.Second, "first result", func() bool { return ms.resultCount() == 1 })
	waitFor(t, 30*time.Second, "give-up", func() bool { mu.Lock(); defer mu.Unlock(); return len(gaveUp) == 1 })
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.WaitWorkers()
	if !r.v2.off.Load() {
		t.Error("update-v2 404 was not taken as 'not supported'")
	}
	if !errors.Is(gaveUp[0], client.ErrNotFound) {
		t.Errorf("give-up error %v does not match client.ErrNotFound", gaveUp[0])
	}
	var ae *client.APIError
	if !errors.As(gaveUp[0], &ae) || ae.StatusCode != 404 {
		t.Errorf("give-up error %v does not carry the *client.APIError", gaveUp[0])
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if got := ms.results[0]; got.TaskId != "r-0" || got.Status != model.CompletedTask || got.WorkerId != "w1" {
		t.Errorf("result %+v", got)
	}
	// The first poll asks for every free slot without holding; idle polls
	// ask for one task and hold for the configured timeout.
	q := ms.polls[0]
	for _, want := range []string{"workerid=w1", "domain=blue", "count=2", "timeout=0"} {
		if !strings.Contains(q, want) {
			t.Errorf("first poll query %q lacks %q", q, want)
		}
	}
	held := 0
	for _, q := range ms.polls[1:] {
		if strings.Contains(q, "timeout=100") {
			held++
			if !strings.Contains(q, "count=1") || !strings.Contains(q, "domain=blue") {
				t.Errorf("held poll query %q", q)
			}
		}
	}
	if held == 0 {
		t.Errorf("no held poll with the configured timeout among %q", ms.polls)
	}
}

func TestNewTaskRunnerReportsBadSettings(t *testing.T) {
	r := NewTaskRunner(nil, settings.NewHttpSettings("not a url"), WithLogger(quietLogger()))
	err := r.Start("x", echo)
	if err == nil || !strings.Contains(err.Error(), "not a url") {
		t.Fatalf("Start with bad settings: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		status    int
		retryable bool
		kind      ErrorKind
	}{
		{400, false, "client"}, {404, false, "client"}, {409, false, "client"},
		// Refused after a fresh token: evidence for the fatal rule, not a
		// plain retry (issue 24).
		{401, false, "unauthorized"}, {403, false, "unauthorized"},
		{408, true, "client"}, {429, true, "throttled"},
		{500, true, "server"}, {502, true, "server"}, {503, true, "server"},
	}
	for _, tt := range tests {
		err := describe(fmt.Errorf("wrapped: %w", &client.APIError{StatusCode: tt.status, RetryAfter: 3 * time.Second}))
		c := classify(err)
		if c.retryable != tt.retryable || c.kind != tt.kind || c.retryAfter != 3*time.Second {
			t.Errorf("%d: %+v", tt.status, c)
		}
	}
	if c := classify(describe(context.DeadlineExceeded)); !c.retryable || c.kind != "timeout" {
		t.Errorf("deadline: %+v", c)
	}
	if describe(nil) != nil {
		t.Error("describe(nil) != nil")
	}
}
