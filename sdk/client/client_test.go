package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/retry"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// recorded is one request as the server saw it.
type recorded struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         string
}

// fakeServer answers with handler and records every request.
type fakeServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFake(t *testing.T, handler http.HandlerFunc) *fakeServer {
	t.Helper()
	f := &fakeServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)})
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		handler(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func fastRetry() Option {
	return WithRetryPolicy(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
}

func newClient(t *testing.T, url string, auth *settings.AuthenticationSettings, opts ...Option) *APIClient {
	t.Helper()
	c, err := New(auth, settings.NewHttpSettings(url+"/api"), append([]Option{fastRetry()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	_, _ = io.WriteString(w, s)
}

func TestRequestsSent(t *testing.T) {
	ctx := context.Background()
	type tc struct {
		name     string
		answer   func(w http.ResponseWriter)
		call     func(c *APIClient) (interface{}, error)
		want     recorded
		check    func(t *testing.T, got interface{})
		wantNoCT bool
	}
	tests := []tc{
		{
			name:   "batch poll",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, []model.Task{{TaskId: "t1"}, {TaskId: "t2"}}) },
			call: func(c *APIClient) (interface{}, error) {
				return c.Tasks().BatchPoll(ctx, "my task/x", PollOptions{Count: 7, Timeout: 1500 * time.Millisecond, WorkerID: "w-1", Domain: "blue"})
			},
			want:     recorded{Method: "GET", RawPath: "/api/tasks/poll/batch/my%20task%2Fx", Query: "count=7&domain=blue&timeout=1500&workerid=w-1"},
			wantNoCT: true,
			check: func(t *testing.T, got interface{}) {
				if ts := got.([]model.Task); len(ts) != 2 || ts[1].TaskId != "t2" {
					t.Fatalf("tasks = %+v", ts)
				}
			},
		},
		{
			name:   "batch poll with NoWait sends timeout=0",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, []model.Task{}) },
			call: func(c *APIClient) (interface{}, error) {
				return c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 3, NoWait: true})
			},
			want:     recorded{Method: "GET", RawPath: "/api/tasks/poll/batch/t", Query: "count=3&timeout=0"},
			wantNoCT: true,
		},
		{
			name:   "batch poll omits empty domain and zero timeout, empty answer is an empty slice",
			answer: func(w http.ResponseWriter) { w.WriteHeader(204) },
			call: func(c *APIClient) (interface{}, error) {
				return c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1})
			},
			want: recorded{Method: "GET", RawPath: "/api/tasks/poll/batch/t", Query: "count=1"},
			check: func(t *testing.T, got interface{}) {
				if ts := got.([]model.Task); ts == nil || len(ts) != 0 {
					t.Fatalf("tasks = %#v, want empty non-nil", ts)
				}
			},
		},
		{
			name:   "single poll 204 is nil",
			answer: func(w http.ResponseWriter) { w.WriteHeader(204) },
			call:   func(c *APIClient) (interface{}, error) { return c.Tasks().Poll(ctx, "t", "w", "") },
			want:   recorded{Method: "GET", RawPath: "/api/tasks/poll/t", Query: "workerid=w"},
			check: func(t *testing.T, got interface{}) {
				if got.(*model.Task) != nil {
					t.Fatalf("task = %+v, want nil", got)
				}
			},
		},
		{
			name:   "update task",
			answer: func(w http.ResponseWriter) { writeText(w, "t1") },
			call: func(c *APIClient) (interface{}, error) {
				return nil, c.Tasks().UpdateTask(ctx, &model.TaskResult{TaskId: "t1", WorkflowInstanceId: "w1", Status: model.CompletedTask, WorkerId: "me"})
			},
			want: recorded{Method: "POST", RawPath: "/api/tasks", Body: `{"workflowInstanceId":"w1","taskId":"t1","workerId":"me","status":"COMPLETED","outputData":{}}`},
		},
		{
			name:   "update v2 returns the next task",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, model.Task{TaskId: "next"}) },
			call: func(c *APIClient) (interface{}, error) {
				return c.Tasks().UpdateTaskV2(ctx, &model.TaskResult{TaskId: "t1", WorkflowInstanceId: "w1", Status: model.FailedTask, ReasonForIncompletion: "x"})
			},
			want: recorded{Method: "POST", RawPath: "/api/tasks/update-v2", Body: `{"workflowInstanceId":"w1","taskId":"t1","reasonForIncompletion":"x","status":"FAILED","outputData":{}}`},
			check: func(t *testing.T, got interface{}) {
				if got.(*model.Task).TaskId != "next" {
					t.Fatalf("next = %+v", got)
				}
			},
		},
		{
			name:   "update by ref name",
			answer: func(w http.ResponseWriter) { writeText(w, "task-9") },
			call: func(c *APIClient) (interface{}, error) {
				return c.Tasks().UpdateTaskByRefName(ctx, "wf-1", "approve ref", model.CompletedTask, map[string]interface{}{"ok": true}, "human")
			},
			want: recorded{Method: "POST", RawPath: "/api/tasks/wf-1/approve%20ref/COMPLETED", Query: "workerid=human", Body: `{"ok":true}`},
			check: func(t *testing.T, got interface{}) {
				if got.(string) != "task-9" {
					t.Fatalf("id = %v", got)
				}
			},
		},
		{
			name:   "get task",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, model.Task{TaskId: "abc", Status: model.TaskScheduled}) },
			call:   func(c *APIClient) (interface{}, error) { return c.Tasks().GetTask(ctx, "abc") },
			want:   recorded{Method: "GET", RawPath: "/api/tasks/abc"},
		},
		{
			name:   "add log sends the raw line",
			answer: func(w http.ResponseWriter) {},
			call:   func(c *APIClient) (interface{}, error) { return nil, c.Tasks().AddLog(ctx, "abc", "hello world") },
			want:   recorded{Method: "POST", RawPath: "/api/tasks/abc/log", Body: "hello world"},
		},
		{
			name:   "queue sizes",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, map[string]int{"a": 3, "b": 0}) },
			call:   func(c *APIClient) (interface{}, error) { return c.Tasks().QueueSizes(ctx, "a", "b") },
			want:   recorded{Method: "GET", RawPath: "/api/tasks/queue/sizes", Query: "taskType=a&taskType=b"},
			check: func(t *testing.T, got interface{}) {
				if got.(map[string]int)["a"] != 3 {
					t.Fatalf("sizes = %v", got)
				}
			},
		},
		{
			name: "poll data",
			answer: func(w http.ResponseWriter) {
				writeJSON(w, 200, []model.PollData{{QueueName: "a", WorkerId: "w", LastPollTime: 5}})
			},
			call: func(c *APIClient) (interface{}, error) { return c.Tasks().PollData(ctx, "a") },
			want: recorded{Method: "GET", RawPath: "/api/tasks/queue/polldata", Query: "taskType=a"},
		},
		{
			name:   "start workflow reads the text id",
			answer: func(w http.ResponseWriter) { writeText(w, "wf-id-1") },
			call: func(c *APIClient) (interface{}, error) {
				return c.workflows().Start(ctx, &model.StartWorkflowRequest{Name: "flow", Version: 2, TaskToDomain: map[string]string{"*": "d"}})
			},
			want: recorded{Method: "POST", RawPath: "/api/workflow", Body: `{"name":"flow","version":2,"input":{},"taskToDomain":{"*":"d"}}`},
			check: func(t *testing.T, got interface{}) {
				if got.(string) != "wf-id-1" {
					t.Fatalf("id = %v", got)
				}
			},
		},
		{
			name: "get workflow",
			answer: func(w http.ResponseWriter) {
				writeJSON(w, 200, model.Workflow{WorkflowId: "wf", Status: model.WorkflowRunning})
			},
			call: func(c *APIClient) (interface{}, error) { return c.workflows().Get(ctx, "wf", false) },
			want: recorded{Method: "GET", RawPath: "/api/workflow/wf", Query: "includeTasks=false"},
		},
		{
			name:   "terminate",
			answer: func(w http.ResponseWriter) {},
			call: func(c *APIClient) (interface{}, error) {
				return nil, c.workflows().Terminate(ctx, "wf", "no longer needed")
			},
			want: recorded{Method: "DELETE", RawPath: "/api/workflow/wf", Query: "reason=no+longer+needed"},
		},
		{
			name:   "register task defs sends an array",
			answer: func(w http.ResponseWriter) {},
			call: func(c *APIClient) (interface{}, error) {
				return nil, c.metadata().RegisterTaskDefs(ctx, model.TaskDef{Name: "a", OwnerEmail: "o@x"})
			},
			want: recorded{Method: "POST", RawPath: "/api/metadata/taskdefs", Body: `[{"name":"a","retryCount":0,"timeoutSeconds":0,"retryDelaySeconds":0,"ownerEmail":"o@x"}]`},
		},
		{
			name:   "register workflow def",
			answer: func(w http.ResponseWriter) {},
			call: func(c *APIClient) (interface{}, error) {
				return nil, c.metadata().RegisterWorkflowDef(ctx, &model.WorkflowDef{Name: "f", Tasks: []model.WorkflowTask{{Name: "a", TaskReferenceName: "a"}}})
			},
			want: recorded{Method: "POST", RawPath: "/api/metadata/workflow", Body: `{"name":"f","tasks":[{"name":"a","taskReferenceName":"a"}],"timeoutSeconds":0}`},
		},
		{
			name:   "get workflow def by version",
			answer: func(w http.ResponseWriter) { writeJSON(w, 200, model.WorkflowDef{Name: "f", Version: 2}) },
			call:   func(c *APIClient) (interface{}, error) { return c.metadata().GetWorkflowDef(ctx, "f", 2) },
			want:   recorded{Method: "GET", RawPath: "/api/metadata/workflow/f", Query: "version=2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) { tc.answer(w) })
			c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
			got, err := tc.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tc.want.Method || r.RawPath != tc.want.RawPath || r.Query != tc.want.Query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.Method, r.RawPath, r.Query, tc.want.Method, tc.want.RawPath, tc.want.Query)
			}
			if r.Body != tc.want.Body {
				t.Errorf("body = %s\nwant   %s", r.Body, tc.want.Body)
			}
			if got := r.Header.Values("Accept"); len(got) != 1 || got[0] != "application/json" {
				t.Errorf("Accept = %v, want one application/json", got)
			}
			ct := r.Header.Values("Content-Type")
			if tc.want.Body == "" && len(ct) != 0 {
				t.Errorf("Content-Type %v on a request without body", ct)
			}
			if tc.want.Body != "" && len(ct) != 1 {
				t.Errorf("Content-Type = %v, want exactly one", ct)
			}
			if r.Header.Get(authHeader) != "" {
				t.Errorf("X-Authorization sent without authentication")
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

func TestErrorsAreTyped(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		status   int
		body     string
		sentinel error
		msg      string
	}{
		{404, `{"status":404,"message":"No such task found by id: abc","instance":"h","retryable":false}`, ErrNotFound, "No such task found by id: abc"},
		{409, `{"status":409,"message":"Workflow with f.1 already exists!"}`, ErrConflict, "already exists"},
		{400, `{"status":400,"message":"Validation failed, check below errors for detail.","validationErrors":[{"path":"registerTaskDef.arg0[0].ownerEmail","message":"ownerEmail cannot be empty"}]}`, ErrBadRequest,
			"Validation failed, check below errors for detail.: registerTaskDef.arg0[0].ownerEmail: ownerEmail cannot be empty"},
		{400, `{"status":400,"message":"Validation failed, check below errors for detail.","validationErrors":[{"path":"startWorkflow.arg3","message":"99 is the maximum priority value","invalidValue":"100"}]}`, ErrBadRequest,
			"startWorkflow.arg3: 99 is the maximum priority value (got 100)"},
		{401, `{"error":"INVALID_TOKEN","message":"Invalid token"}`, ErrUnauthorized, "Invalid token"},
		{500, `<html>oops</html>`, nil, "<html>oops</html>"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
			_, err := c.Tasks().GetTask(ctx, "abc")
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Method != "GET" || apiErr.Path != "/api/tasks/abc" || !strings.Contains(apiErr.Message, tc.msg) {
				t.Errorf("APIError = %+v", apiErr)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.sentinel)
			}
			for _, other := range []error{ErrNotFound, ErrConflict, ErrBadRequest, ErrUnauthorized} {
				if other != tc.sentinel && errors.Is(err, other) {
					t.Errorf("error also matches %v", other)
				}
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d requests for a non-retryable answer, want 1", n)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	t.Run("retryable statuses then success", func(t *testing.T) {
		for _, status := range []int{429, 502, 503, 504} {
			var n atomic.Int32
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) < 3 {
					w.WriteHeader(status)
					return
				}
				writeJSON(w, 200, []model.Task{})
			})
			c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
			if _, err := c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1}); err != nil {
				t.Fatalf("status %d: %v", status, err)
			}
			if n.Load() != 3 {
				t.Fatalf("status %d: %d attempts, want 3", status, n.Load())
			}
		}
	})
	t.Run("gives up after MaxAttempts", func(t *testing.T) {
		var n atomic.Int32
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1); w.WriteHeader(503) })
		c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
		err := c.Tasks().UpdateTask(ctx, &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask})
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || !apiErr.Retryable() {
			t.Fatalf("err = %v", err)
		}
		if n.Load() != 4 {
			t.Fatalf("%d attempts, want 4", n.Load())
		}
	})
	t.Run("500 and other 4xx are not retried", func(t *testing.T) {
		for _, status := range []int{500, 400, 404, 409} {
			var n atomic.Int32
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1); w.WriteHeader(status) })
			c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
			_ = c.Tasks().UpdateTask(ctx, &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask})
			if n.Load() != 1 {
				t.Fatalf("status %d: %d attempts, want 1", status, n.Load())
			}
		}
	})
	t.Run("WithoutRetries makes one attempt", func(t *testing.T) {
		var n atomic.Int32
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1); w.WriteHeader(503) })
		c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
		_, err := c.Tasks().withoutRetries().BatchPoll(ctx, "t", PollOptions{Count: 1})
		if err == nil || n.Load() != 1 {
			t.Fatalf("err=%v attempts=%d, want an error after 1", err, n.Load())
		}
	})
	t.Run("Retry-After is honoured", func(t *testing.T) {
		var n atomic.Int32
		var first, second time.Time
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				first = time.Now()
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(429)
				return
			}
			second = time.Now()
			writeJSON(w, 200, []model.Task{})
		})
		c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
		if _, err := c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1}); err != nil {
			t.Fatal(err)
		}
		if gap := second.Sub(first); gap < 900*time.Millisecond {
			t.Fatalf("retried after %v, the server asked for 1s", gap)
		}
	})
	t.Run("context bounds the retries", func(t *testing.T) {
		// The server asks for an hour: a client that waited it out instead of
		// giving up at the context's deadline would not return within the
		// test's minute.
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(503)
		})
		c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("BatchPoll succeeded against a server that answers 503")
			}
		case <-time.After(time.Minute):
			t.Fatal("BatchPoll did not return within a minute of its 100 ms context deadline (it waited out Retry-After)")
		}
	})
	t.Run("connection refused is retried then reported", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {})
		url := f.URL
		f.Close()
		c := newClient(t, url, nil)
		_, err := c.workflows().Start(ctx, &model.StartWorkflowRequest{Name: "x"})
		if err == nil || !retry.IsDialError(err) {
			t.Fatalf("err = %v, want a dial error", err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if d := parseRetryAfter("3", now); d != 3*time.Second {
		t.Errorf("seconds: %v", d)
	}
	if d := parseRetryAfter(now.Add(2*time.Second).Format(http.TimeFormat), now); d != 2*time.Second {
		t.Errorf("date: %v", d)
	}
	for _, v := range []string{"", "-1", "soon", now.Add(-time.Hour).Format(http.TimeFormat)} {
		if d := parseRetryAfter(v, now); d != 0 {
			t.Errorf("%q: %v, want 0", v, d)
		}
	}
}

func TestInvalidSettings(t *testing.T) {
	c := NewAPIClient(nil, settings.NewHttpSettings("localhost:8080"))
	_, err := c.Tasks().GetTask(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), `BaseUrl must be an absolute http(s) URL`) || !strings.Contains(err.Error(), `"localhost:8080"`) {
		t.Fatalf("err = %v", err)
	}
	if c.err() == nil {
		t.Fatal("Err() = nil for invalid settings")
	}
	if _, err := New(settings.NewAuthenticationSettings("k", ""), settings.NewHttpSettings("http://h/api")); err == nil || !strings.Contains(err.Error(), "KeySecret") {
		t.Fatalf("key without secret: %v", err)
	}
	c2, _ := New(nil, settings.NewHttpSettings("http://h/api"))
	if _, err := c2.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 0}); err == nil || !strings.Contains(err.Error(), "Count must be >= 1, got 0") {
		t.Fatalf("count 0: %v", err)
	}
	if _, err := c2.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1, Timeout: 6 * time.Second}); err == nil || !strings.Contains(err.Error(), "got 6s") {
		t.Fatalf("timeout 6s: %v", err)
	}
	if err := c2.Tasks().UpdateTask(context.Background(), &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: "DONE"}); err == nil || !strings.Contains(err.Error(), `got "DONE"`) {
		t.Fatalf("bad status: %v", err)
	}
}

func TestUpdateV2NotSupported(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   bool
	}{
		{404, `{"status":404,"message":"No static resource api/tasks/update-v2."}`, true},
		{405, ``, true},
		{500, `{"status":500,"message":"Request method 'POST' is not supported"}`, true},
		{404, `{"status":404,"message":"No such task found by id: t"}`, false},
		{500, `{"status":500,"message":"NullPointerException"}`, false},
	}
	for _, tc := range tests {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, tc.body)
		})
		c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
		_, err := c.Tasks().UpdateTaskV2(context.Background(), &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: model.CompletedTask})
		if got := errors.Is(err, ErrNotSupported); got != tc.want {
			t.Errorf("%d %s: ErrNotSupported = %v, want %v (err %v)", tc.status, tc.body, got, tc.want, err)
		}
	}
}

func TestRefNameUpdateWithoutMatchIsNotFound(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
	_, err := c.Tasks().UpdateTaskByRefName(context.Background(), "wf", "nope", model.CompletedTask, nil, "")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if _, err := c.Tasks().UpdateTaskByRefName(context.Background(), "wf", "r", model.CompletedTask, []int{1}, ""); err == nil || !strings.Contains(err.Error(), "JSON array") {
		t.Fatalf("array output: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, body := range []string{`[{"taskId":`, `{"not":"a list"}`, `<html>`} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, body)
		})
		c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
		_, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
		if !errors.Is(err, ErrDecode) {
			t.Errorf("body %q: err = %v, want ErrDecode", body, err)
		}
		if n := len(f.requests()); n != 1 {
			t.Errorf("decode error retried %d times", n)
		}
	}
}

func TestEndlessBodyIsCapped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "[")
		chunk := []byte(strings.Repeat(`{"taskId":"x"},`, 1000))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()), WithMaxResponseBytes(1<<20))
	_, err := c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1})
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err = %v, want ErrResponseTooLarge", err)
	}
}

func TestLoggerDefaultIsNotGlobal(t *testing.T) {
	var buf bytes.Buffer
	logrus.SetOutput(&buf)
	defer logrus.SetOutput(io.Discard)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	c := newClient(t, f.URL, nil, WithHTTPClient(f.Client()))
	_, _ = c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
	if buf.Len() != 0 {
		t.Fatalf("the global logger was written to: %s", buf.String())
	}
}
