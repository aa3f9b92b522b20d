package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

func TestMoreRequestsSent(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		call   func(c *APIClient) error
		want   recorded
	}{
		{
			name:   "single poll with domain",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, model.Task{TaskId: "t"}) },
			call: func(c *APIClient) error {
				task, err := c.Tasks().Poll(ctx, "a/b", "w 1", "blue")
				if err == nil && (task == nil || task.TaskId != "t") {
					return errors.New("task not decoded")
				}
				return err
			},
			want: recorded{Method: "GET", RawPath: "/api/tasks/poll/a%2Fb", Query: "domain=blue&workerid=w+1"},
		},
		{
			name: "update by ref name, sync",
			answer: func(w http.ResponseWriter) {
				writeJSON(w, 200, model.Workflow{WorkflowId: "wf-1", Status: model.WorkflowCompleted})
			},
			call: func(c *APIClient) error {
				wf, err := c.Tasks().UpdateTaskByRefNameSync(ctx, "wf-1", "ref", model.FailedTask, struct {
					Why string `json:"why"`
				}{"no"}, "")
				if err == nil && wf.Status != model.WorkflowCompleted {
					return errors.New("workflow not decoded")
				}
				return err
			},
			want: recorded{Method: "POST", RawPath: "/api/tasks/wf-1/ref/FAILED/sync", Body: `{"why":"no"}`},
		},
		{
			name:   "get logs: 204 is an empty list",
			answer: func(w http.ResponseWriter) { w.WriteHeader(204) },
			call: func(c *APIClient) error {
				logs, err := c.Tasks().GetLogs(ctx, "t 1")
				if err == nil && (logs == nil || len(logs) != 0) {
					return errors.New("want an empty non-nil list")
				}
				return err
			},
			want: recorded{Method: "GET", RawPath: "/api/tasks/t%201/log"},
		},
		{
			name:   "update task def",
			answer: func(w http.ResponseWriter) {},
			call: func(c *APIClient) error {
				return c.metadata().UpdateTaskDef(ctx, model.TaskDef{Name: "a", RetryCount: 2, TimeoutSeconds: 60})
			},
			want: recorded{Method: "PUT", RawPath: "/api/metadata/taskdefs", Body: `{"name":"a","retryCount":2,"timeoutSeconds":60,"retryDelaySeconds":0}`},
		},
		{
			name:   "get task def",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, model.TaskDef{Name: "a b", RetryCount: 4}) },
			call: func(c *APIClient) error {
				d, err := c.metadata().GetTaskDef(ctx, "a b")
				if err == nil && d.RetryCount != 4 {
					return errors.New("def not decoded")
				}
				return err
			},
			want: recorded{Method: "GET", RawPath: "/api/metadata/taskdefs/a%20b"},
		},
		{
			name: "update workflow defs sends an array",
			answer: func(w http.ResponseWriter) {
				writeJSON(w, 200, model.BulkResponse{BulkSuccessfulResults: []string{"f"}})
			},
			call: func(c *APIClient) error {
				return c.metadata().UpdateWorkflowDefs(ctx, model.WorkflowDef{Name: "f", Version: 1})
			},
			want: recorded{Method: "PUT", RawPath: "/api/metadata/workflow", Body: `[{"name":"f","version":1,"tasks":null,"timeoutSeconds":0}]`},
		},
		{
			name:   "get latest workflow def sends no version",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, model.WorkflowDef{Name: "f", Version: 3}) },
			call: func(c *APIClient) error {
				_, err := c.metadata().GetWorkflowDef(ctx, "f", 0)
				return err
			},
			want: recorded{Method: "GET", RawPath: "/api/metadata/workflow/f"},
		},
		{
			name:   "delete workflow",
			answer: func(w http.ResponseWriter) {},
			call:   func(c *APIClient) error { return c.workflows().Delete(ctx, "wf/1") },
			want:   recorded{Method: "DELETE", RawPath: "/api/workflow/wf%2F1/remove", Query: "archiveWorkflow=false"},
		},
		{
			name:   "get workflow with tasks",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, model.Workflow{WorkflowId: "wf"}) },
			call: func(c *APIClient) error {
				_, err := c.workflows().Get(ctx, "wf", true)
				return err
			},
			want: recorded{Method: "GET", RawPath: "/api/workflow/wf", Query: "includeTasks=true"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) { tc.answer(w) })
			c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
			if err := tc.call(c); err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tc.want.Method || r.RawPath != tc.want.RawPath || r.Query != tc.want.Query || r.Body != tc.want.Body {
				t.Errorf("request = %s %s?%s %s\nwant      %s %s?%s %s", r.Method, r.RawPath, r.Query, r.Body, tc.want.Method, tc.want.RawPath, tc.want.Query, tc.want.Body)
			}
			if got := r.Header.Values("User-Agent"); len(got) != 1 || got[0] != userAgent {
				t.Errorf("User-Agent = %v", got)
			}
		})
	}
}

func TestUpdateWorkflowDefsReportsRefusedDefinitions(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, model.BulkResponse{BulkSuccessfulResults: []string{"a"}, BulkErrorResults: map[string]string{"b": "tasks must not be empty"}})
	})
	c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
	err := c.metadata().UpdateWorkflowDefs(context.Background(), model.WorkflowDef{Name: "a"}, model.WorkflowDef{Name: "b"})
	if err == nil || !strings.Contains(err.Error(), "refused 1 of 2") || !strings.Contains(err.Error(), "b: tasks must not be empty") {
		t.Fatalf("err = %v", err)
	}
}

func TestHeadersAndGzip(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_ = json.NewEncoder(zw).Encode([]model.Task{{TaskId: "zipped"}})
		_ = zw.Close()
	})
	h := settings.NewHttpSettings(f.URL + "/api")
	h.Headers["X-Tenant"] = "acme"
	h.Headers["Accept"] = "application/json" // must not be sent twice
	c, err := New(nil, h, WithHTTPClient(f.Client()))
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
	if err != nil || len(tasks) != 1 || tasks[0].TaskId != "zipped" {
		t.Fatalf("gzip answer: %v %v", tasks, err)
	}
	r := f.requests()[0]
	for name, want := range map[string]string{"Accept": "application/json", "Accept-Encoding": "gzip", "X-Tenant": "acme"} {
		if got := r.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, want exactly [%s]", name, got, want)
		}
	}
}

type recObserver struct {
	mu       sync.Mutex
	requests []string
	tokens   []error
}

func (o *recObserver) RequestDone(endpoint, method string, status int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	entry := fmt.Sprintf("%s %s %d", method, endpoint, status)
	if d < 0 {
		entry += " negative duration"
	}
	o.requests = append(o.requests, entry)
}

func (o *recObserver) TokenRefreshed(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tokens = append(o.tokens, err)
}

func TestObserverSeesRouteTemplatesAndStatuses(t *testing.T) {
	s := newAuthServer(t)
	s.answer = func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/") {
			writeJSON(w, 200, []model.Task{})
			return
		}
		writeJSON(w, 404, map[string]string{"message": "No such task found by id: x"})
	}
	obs := &recObserver{}
	c := newClient(t, s.URL, settings.NewAuthenticationSettings("key", testSecret), WithObserver(obs))
	ctx := context.Background()
	if _, err := c.Tasks().BatchPoll(ctx, "secret-looking-type", PollOptions{Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tasks().GetTask(ctx, "task-id-123"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetTask: %v", err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	c2 := newClient(t, downURL, nil, WithObserver(obs), WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	_, _ = c2.workflows().Get(ctx, "wf-9", false)

	want := []string{
		"POST /token 200",
		"GET /tasks/poll/batch/{taskType} 200",
		"GET /tasks/{taskId} 404",
		"GET /workflow/{workflowId} 0", // no answer
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if strings.Join(obs.requests, "\n") != strings.Join(want, "\n") {
		t.Errorf("observed:\n%s\nwant:\n%s", strings.Join(obs.requests, "\n"), strings.Join(want, "\n"))
	}
	if len(obs.tokens) != 1 || obs.tokens[0] != nil {
		t.Errorf("token refreshes observed: %v, want one success", obs.tokens)
	}
}

func TestRetryRulesByCallKind(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		status   int
		retryAft string
		call     func(c *APIClient) error
		attempts int32
	}{
		{"start is not resent after 502", 502, "", func(c *APIClient) error {
			_, err := c.workflows().Start(ctx, &model.StartWorkflowRequest{Name: "f"})
			return err
		}, 1},
		{"start is not resent after 504", 504, "", func(c *APIClient) error {
			_, err := c.workflows().Start(ctx, &model.StartWorkflowRequest{Name: "f"})
			return err
		}, 1},
		{"start is resent after 503", 503, "", func(c *APIClient) error {
			_, err := c.workflows().Start(ctx, &model.StartWorkflowRequest{Name: "f"})
			return err
		}, 4},
		{"register workflow def is resent after 429", 429, "0", func(c *APIClient) error {
			return c.metadata().RegisterWorkflowDef(ctx, &model.WorkflowDef{Name: "f"})
		}, 4},
		{"update is resent after 504", 504, "", func(c *APIClient) error {
			return c.Tasks().UpdateTask(ctx, &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask})
		}, 4},
		// Issue 24, point 5: not idempotent, so not resent once the request
		// may have been applied (each update-v2 takes another task; an update
		// by reference name can reach the retry scheduled under that name).
		{"update-v2 is not resent after 502", 502, "", func(c *APIClient) error {
			_, err := c.Tasks().UpdateTaskV2(ctx, &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask})
			return err
		}, 1},
		{"update-v2 is not resent after 504", 504, "", func(c *APIClient) error {
			_, err := c.Tasks().UpdateTaskV2(ctx, &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask})
			return err
		}, 1},
		{"update-v2 is resent after 503", 503, "0", func(c *APIClient) error {
			_, err := c.Tasks().UpdateTaskV2(ctx, &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask})
			return err
		}, 4},
		{"update by ref name is not resent after 504", 504, "", func(c *APIClient) error {
			_, err := c.Tasks().UpdateTaskByRefName(ctx, "w", "ref", model.FailedTask, nil, "")
			return err
		}, 1},
		{"update by ref name is not resent after 502", 502, "", func(c *APIClient) error {
			_, err := c.Tasks().UpdateTaskByRefName(ctx, "w", "ref", model.FailedTask, nil, "")
			return err
		}, 1},
		{"update by ref name is resent after 429", 429, "0", func(c *APIClient) error {
			_, err := c.Tasks().UpdateTaskByRefName(ctx, "w", "ref", model.FailedTask, nil, "")
			return err
		}, 4},
		{"408 is final", 408, "", func(c *APIClient) error {
			_, err := c.Tasks().GetTask(ctx, "t")
			return err
		}, 1},
		{"Retry-After beyond a minute ends the call at once", 503, "3600", func(c *APIClient) error {
			_, err := c.Tasks().GetTask(ctx, "t")
			var apiErr *APIError
			if errors.As(err, &apiErr) && apiErr.RetryAfter != time.Hour {
				return errors.New("RetryAfter not reported")
			}
			return err
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				if tc.retryAft != "" {
					w.Header().Set("Retry-After", tc.retryAft)
				}
				w.WriteHeader(tc.status)
			})
			c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
			var apiErr *APIError
			if err := tc.call(c); !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
				t.Fatalf("err = %v, want the %d answer", err, tc.status)
			}
			if n.Load() != tc.attempts {
				t.Fatalf("%d attempts, want %d", n.Load(), tc.attempts)
			}
		})
	}
}

func TestRetryStopsWhenTheDeadlineIsTooNear(t *testing.T) {
	var n atomic.Int32
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(503)
	})
	c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Tasks().GetTask(ctx, "t")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Fatalf("err = %v, want the 503 at once", err)
	}
	if n.Load() != 1 || ctx.Err() != nil {
		t.Fatalf("attempts = %d, ctx err = %v: the client waited for a retry it could not make", n.Load(), ctx.Err())
	}
}

func TestLongPollDeadline(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/poll/batch/") {
			// Longer than the request timeout, shorter than poll timeout + request timeout.
			time.Sleep(700 * time.Millisecond)
			writeJSON(w, 200, []model.Task{{TaskId: "late"}})
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	h := settings.NewHttpSettings(f.URL + "/api")
	h.Timeout = 300 * time.Millisecond
	c, err := New(nil, h, WithHTTPClient(f.Client()), WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1, Timeout: 2 * time.Second})
	if err != nil || len(tasks) != 1 {
		t.Fatalf("a long poll was cut short by the request timeout: %v %v", tasks, err)
	}
	_, err = c.Tasks().GetTask(context.Background(), "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetTask past the request timeout: err = %v, want DeadlineExceeded", err)
	}
}

func Test403TokenAnswers(t *testing.T) {
	for _, tc := range []struct {
		code        string
		wantRefresh bool
	}{{"EXPIRED_TOKEN", true}, {"INVALID_TOKEN", true}, {"ACCESS_DENIED", false}} {
		t.Run(tc.code, func(t *testing.T) {
			var issued atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api/token" {
					writeJSON(w, 200, map[string]string{"token": "tok-" + string(rune('0'+issued.Add(1)))})
					return
				}
				if r.Header.Get(authHeader) == "tok-1" {
					writeJSON(w, 403, map[string]string{"error": tc.code, "message": "denied"})
					return
				}
				writeJSON(w, 200, []model.Task{})
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, settings.NewAuthenticationSettings("key", testSecret))
			_, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
			if tc.wantRefresh && (err != nil || issued.Load() != 2) {
				t.Fatalf("err = %v, tokens = %d: want a refresh and a successful re-send", err, issued.Load())
			}
			if !tc.wantRefresh && (!errors.Is(err, ErrUnauthorized) || issued.Load() != 1) {
				t.Fatalf("err = %v, tokens = %d: a plain 403 must be returned without a refresh", err, issued.Load())
			}
		})
	}
}

func TestTokenFailureNeverSendsTheRequestUnauthenticated(t *testing.T) {
	var other atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/token" {
			w.WriteHeader(500)
			return
		}
		other.Add(1)
		writeJSON(w, 200, []model.Task{})
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, settings.NewAuthenticationSettings("key", testSecret))
	_, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
	if err == nil || !strings.Contains(err.Error(), "token request failed") {
		t.Fatalf("err = %v, want the token failure", err)
	}
	if other.Load() != 0 {
		t.Fatalf("%d requests went out without a token", other.Load())
	}
}

func TestRedirectPolicyKeepsTheTokenAtHome(t *testing.T) {
	home, _ := url.Parse("https://conductor.example:8443/api")
	policy := keepTokenAtHome(home, nil)
	for _, tc := range []struct {
		target string
		keep   bool
	}{
		{"https://conductor.example:8443/api/x", true},
		{"https://CONDUCTOR.example:8443/api/x", true},
		{"http://conductor.example:8443/api/x", false}, // downgrade
		{"https://conductor.example:9443/api/x", false},
		{"https://evil.example:8443/api/x", false},
	} {
		u, _ := url.Parse(tc.target)
		req := &http.Request{URL: u, Header: http.Header{authHeader: []string{"tok"}}}
		if err := policy(req, []*http.Request{{}}); err != nil {
			t.Fatal(err)
		}
		if kept := req.Header.Get(authHeader) != ""; kept != tc.keep {
			t.Errorf("%s: token kept = %v, want %v", tc.target, kept, tc.keep)
		}
	}
	if err := policy(&http.Request{URL: home, Header: http.Header{}}, make([]*http.Request, 10)); err == nil {
		t.Error("an 11th redirect was followed")
	}
}

func TestErrorBodyIsCappedAndEndlessErrorBodyStops(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		chunk := bytes.Repeat([]byte("e"), 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()), WithMaxResponseBytes(1<<20))
	_, err := c.Tasks().GetTask(context.Background(), "t")
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err = %v, want ErrResponseTooLarge", err)
	}

	long := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		_, _ = w.Write(bytes.Repeat([]byte("x"), 100<<10))
	})
	c = newClient(t, long.URL, nil, WithHTTPClient(long.Client()))
	_, err = c.Tasks().GetTask(context.Background(), "t")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || len(apiErr.Body) != maxErrorBody || len(apiErr.Message) > 200 {
		t.Fatalf("err = %v (body %d bytes)", err, len(apiErr.Body))
	}
}

func TestInvalidClientNeverPanics(t *testing.T) {
	ctx := context.Background()
	var nilClient *APIClient
	for name, c := range map[string]*APIClient{
		"invalid settings": NewAPIClient(nil, settings.NewHttpSettings("not a url")),
		"nil settings":     NewAPIClient(nil, nil),
		"nil client":       nilClient,
	} {
		tc, wc, mc := c.Tasks(), c.workflows(), c.metadata()
		calls := map[string]func() error{
			"BatchPoll": func() error { _, err := tc.BatchPoll(ctx, "t", PollOptions{Count: 1}); return err },
			"Poll":      func() error { _, err := tc.Poll(ctx, "t", "", ""); return err },
			"UpdateTask": func() error {
				return tc.withoutRetries().UpdateTask(ctx, &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask})
			},
			"GetTask":    func() error { _, err := tc.GetTask(ctx, "t"); return err },
			"QueueSizes": func() error { _, err := tc.QueueSizes(ctx, "t"); return err },
			"Start":      func() error { _, err := wc.Start(ctx, &model.StartWorkflowRequest{Name: "f"}); return err },
			"Terminate":  func() error { return wc.Terminate(ctx, "w", "") },
			"GetTaskDef": func() error { _, err := mc.GetTaskDef(ctx, "a"); return err },
		}
		for call, fn := range calls {
			if err := fn(); err == nil {
				t.Errorf("%s: %s returned no error", name, call)
			}
		}
		if c.err() == nil {
			t.Errorf("%s: Err() = nil", name)
		}
		c.CloseIdleConnections()
		_ = c.String()
	}
}

func TestArgumentErrorsNameTheField(t *testing.T) {
	c, _ := New(nil, settings.NewHttpSettings("http://127.0.0.1:1/api"))
	ctx := context.Background()
	for want, fn := range map[string]func() error{
		"taskType must not be empty":  func() error { _, err := c.Tasks().Poll(ctx, "", "", ""); return err },
		"PollOptions.Timeout must be": func() error { _, err := c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1, Timeout: -1}); return err },
		"NoWait needs Timeout 0, got 1s": func() error {
			_, err := c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1, Timeout: time.Second, NoWait: true})
			return err
		},
		"TaskResult.TaskId must not be":     func() error { return c.Tasks().UpdateTask(ctx, &model.TaskResult{}) },
		"TaskResult.WorkflowInstanceId":     func() error { return c.Tasks().UpdateTask(ctx, &model.TaskResult{TaskId: "t"}) },
		"task result must not be nil":       func() error { _, err := c.Tasks().UpdateTaskV2(ctx, nil); return err },
		"taskTypes[1] must not be empty":    func() error { _, err := c.Tasks().QueueSizes(ctx, "a", ""); return err },
		"StartWorkflowRequest.Name":         func() error { _, err := c.workflows().Start(ctx, &model.StartWorkflowRequest{}); return err },
		"TaskDef[1].Name must not be empty": func() error { return c.metadata().RegisterTaskDefs(ctx, model.TaskDef{Name: "a"}, model.TaskDef{}) },
		`status must be IN_PROGRESS, COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR, got "SCHEDULED"`: func() error {
			_, err := c.Tasks().UpdateTaskByRefName(ctx, "w", "r", "SCHEDULED", nil, "")
			return err
		},
		"output of type chan int cannot be encoded": func() error {
			_, err := c.Tasks().UpdateTaskByRefName(ctx, "w", "r", model.CompletedTask, make(chan int), "")
			return err
		},
		"RetryPolicy.MaxAttempts must be >= 1, got 0": func() error {
			_, err := New(nil, settings.NewHttpSettings("http://h/api"), WithRetryPolicy(RetryPolicy{}))
			return err
		},
		"MaxResponseBytes must be > 0, got 0": func() error {
			_, err := New(nil, settings.NewHttpSettings("http://h/api"), WithMaxResponseBytes(0))
			return err
		},
	} {
		if err := fn(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
}

// TestNoSecretInAnyLogLine runs token fetches, refreshes, retries and
// failures with a trace-level logger and scans everything it wrote.
func TestNoSecretInAnyLogLine(t *testing.T) {
	var logs bytes.Buffer
	logger := logrus.New()
	logger.SetOutput(&logs)
	logger.SetLevel(logrus.TraceLevel)
	logger.SetFormatter(&logrus.JSONFormatter{})

	s := newAuthServer(t)
	var n atomic.Int32
	s.answer = func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 1 {
			w.WriteHeader(503)
			return
		}
		writeJSON(w, 200, []model.Task{})
	}
	c := newClient(t, s.URL, settings.NewAuthenticationSettings("key", testSecret), WithLogger(logger))
	var errs []string
	for i := 0; i < 4; i++ {
		if i == 2 {
			s.current.Store("revoked") // force a 401 and a refresh
		}
		if _, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if logs.Len() == 0 {
		t.Fatal("nothing was logged at trace level; the scan would prove nothing")
	}
	tokens := []string{testSecret}
	for i := int32(1); i <= s.issued.Load(); i++ {
		tokens = append(tokens, "tok-"+string(rune('0'+i)))
	}
	for _, secret := range tokens {
		if strings.Contains(logs.String(), secret) || strings.Contains(strings.Join(errs, "\n"), secret) {
			t.Fatalf("%q leaked:\n%s\n%s", secret, logs.String(), strings.Join(errs, "\n"))
		}
	}
}

func TestBaseURLWithoutAPIIsWarnedAbout(t *testing.T) {
	for url, warn := range map[string]bool{"http://127.0.0.1:1": true, "http://127.0.0.1:1/api/": false, "https://x.example/api": false} {
		var logs bytes.Buffer
		logger := logrus.New()
		logger.SetOutput(&logs)
		if _, err := New(nil, settings.NewHttpSettings(url), WithLogger(logger)); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "does not end in /api"); got != warn {
			t.Errorf("%s: warned = %v, want %v (%s)", url, got, warn, logs.String())
		}
	}
}

func TestQueueOverview(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/tasks/queue/sizes":
			writeJSON(w, 200, map[string]int{"a": 2, "b": 0})
		case "/api/tasks/queue/polldata":
			tt := r.URL.Query().Get("taskType")
			writeJSON(w, 200, []model.PollData{{QueueName: tt, WorkerId: "worker-" + tt}})
		}
	})
	c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
	got, err := c.Tasks().QueueOverview(context.Background(), "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].TaskType != "a" || got[0].Size != 2 || got[1].Size != 0 ||
		len(got[1].Pollers) != 1 || got[1].Pollers[0].WorkerId != "worker-b" {
		t.Fatalf("overview = %+v", got)
	}
	if n := len(f.requests()); n != 3 {
		t.Fatalf("%d requests, want 3 (sizes, then poll data per type)", n)
	}
}

// Counts above maxPollCount ask for maxPollCount: 3.21 would cap them there
// and 3.32 would hand out everything, so the client makes both alike.
func TestBatchPollCountCappedAtMaxPollCount(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, []model.Task{}) })
	c := newClient(t, f.URL+"/api", nil, WithHTTPClient(f.Client()))
	for _, tc := range []struct{ count, sent int }{{1, 1}, {maxPollCount, maxPollCount}, {150, maxPollCount}} {
		if _, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: tc.count}); err != nil {
			t.Fatalf("count %d: %v", tc.count, err)
		}
		reqs := f.requests()
		if q, _ := url.ParseQuery(reqs[len(reqs)-1].Query); q.Get("count") != strconv.Itoa(tc.sent) {
			t.Errorf("Count %d sent count=%s, want %d", tc.count, q.Get("count"), tc.sent)
		}
	}
}
