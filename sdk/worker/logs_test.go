package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// A failed execution leaves one log line with what a person needs to find
// the cause, and the task's fields to find the task.
func TestFailedExecutionsAreLoggedWithTheCause(t *testing.T) {
	type out struct {
		Name  string             `json:"name"`
		Score map[string]float64 `json:"score"`
	}
	tests := []struct {
		name   string
		h      HandlerFunc
		level  logrus.Level
		fields map[string]string // field -> substring of its value
	}{
		{
			name:   "panic",
			h:      func(context.Context, *model.Task) (interface{}, error) { panic("wheels came off") },
			level:  logrus.ErrorLevel,
			fields: map[string]string{"panic": "wheels came off", "stack": "logs_test.go"},
		},
		{
			name:   "error",
			h:      func(context.Context, *model.Task) (interface{}, error) { return nil, errors.New("db down") },
			level:  logrus.WarnLevel,
			fields: map[string]string{logrus.ErrorKey: "db down", "status": "FAILED"},
		},
		{
			name: "unencodable output",
			h: func(context.Context, *model.Task) (interface{}, error) {
				return out{Name: "x", Score: map[string]float64{"a": 1, "b": math.Inf(-1)}}, nil
			},
			level:  logrus.WarnLevel,
			fields: map[string]string{"reason": `field "score.b"`, "status": "FAILED_WITH_TERMINAL_ERROR"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				if err := b.r.Start("x", tt.h); err != nil {
					t.Fatal(err)
				}
				b.f.push("", makeTasks("x", "o", 1)...)
				waitFor(t, 5*time.Minute, "the result", func() bool { return b.f.updatedCount() == 1 })
				var lines []*logrus.Entry
				for _, e := range b.logs.AllEntries() {
					if e.Level <= logrus.WarnLevel {
						lines = append(lines, e)
					}
				}
				if len(lines) != 1 {
					t.Fatalf("%d warning/error lines, want 1: %v", len(lines), lines)
				}
				e := lines[0]
				if e.Level != tt.level {
					t.Errorf("level %s, want %s", e.Level, tt.level)
				}
				want := map[string]string{"taskId": "o-0", "workflowId": "wf-o", "taskType": "x", "workerId": "test-worker"}
				for k, v := range tt.fields {
					want[k] = v
				}
				for k, v := range want {
					got, ok := e.Data[k]
					if !ok {
						t.Errorf("field %s missing from %q (fields %v)", k, e.Message, e.Data)
						continue
					}
					str := fmt.Sprint(got)
					if !strings.Contains(str, v) {
						t.Errorf("field %s = %q, want it to contain %q", k, str, v)
					}
				}
			})
		})
	}
}

// A token endpoint that keeps failing (a server error, which may end by
// itself) must not flood the log: the client reports each failure to its
// caller only, and the runner logs its failing polls once, rate-limited,
// with the worker's fields.
func TestFailingTokenRefreshIsLoggedOnceByTheRunner(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	clientLog, clientHook := logtest.NewNullLogger()
	runnerLog, runnerHook := logtest.NewNullLogger()
	api := client.NewAPIClient(settings.NewAuthenticationSettings("key", "token-secret-1234"), settings.NewHttpSettings(srv.URL+"/api"),
		client.WithLogger(clientLog))
	var failures atomic.Int64
	r := NewTaskRunnerWithApiClient(api, WithLogger(runnerLog), WithHooks(Hooks{OnWorkerError: func(string, error) { failures.Add(1) }}))
	t.Cleanup(func() {
		_ = r.Shutdown(context.Background())
		r.WaitWorkers()
	})
	if err := r.StartWorker("x", func(*model.Task) (interface{}, error) { return nil, nil }, 1, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "5 failed polls", func() bool { return failures.Load() >= 5 })
	for _, e := range clientHook.AllEntries() {
		if e.Level <= logrus.WarnLevel {
			t.Errorf("the client logged on its own: %s %q", e.Level, e.Message)
		}
	}
	var lines []*logrus.Entry
	for _, e := range runnerHook.AllEntries() {
		if e.Level <= logrus.WarnLevel {
			lines = append(lines, e)
		}
	}
	if len(lines) != 1 || lines[0].Data["taskType"] != "x" || !strings.Contains(fmt.Sprint(lines[0].Data[logrus.ErrorKey]), "token request failed") {
		t.Errorf("runner warnings = %v, want one line for the failing token requests, with the worker's fields", lines)
	}
	if r.Err() != nil {
		t.Errorf("a failing token endpoint (503) stopped the worker: %v", r.Err())
	}
}
