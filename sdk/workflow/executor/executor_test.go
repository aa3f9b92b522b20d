package executor

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

	"go.uber.org/goleak"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type seen struct {
	method, path, query, body string
}

// server answers every request with answer and records what it saw.
func server(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) (*WorkflowExecutor, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var reqs []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b)})
		mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(nil, settings.NewHttpSettings(srv.URL+"/api"), client.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return NewWorkflowExecutor(c), func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), reqs...)
	}
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func TestDocumentedCalls(t *testing.T) {
	type approval struct {
		Approved bool   `json:"approved"`
		By       string `json:"by"`
	}
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		call   func(e *WorkflowExecutor) error
		want   seen
	}{
		{
			name:   "GetTask",
			answer: func(w http.ResponseWriter) { writeJSON(w, model.Task{TaskId: "t-1", Status: model.TaskInProgress}) },
			call: func(e *WorkflowExecutor) error {
				task, err := e.GetTask("t-1")
				if err == nil && (task.TaskId != "t-1" || task.Status != model.TaskInProgress) {
					return errors.New("task not decoded")
				}
				return err
			},
			want: seen{method: "GET", path: "/api/tasks/t-1"},
		},
		{
			name:   "UpdateTask converts a struct output to a JSON object",
			answer: func(w http.ResponseWriter) { _, _ = io.WriteString(w, "t-1") },
			call: func(e *WorkflowExecutor) error {
				return e.UpdateTask("t-1", "wf-1", model.CompletedTask, approval{Approved: true, By: "ann"})
			},
			want: seen{method: "POST", path: "/api/tasks", body: `{"workflowInstanceId":"wf-1","taskId":"t-1","status":"COMPLETED","outputData":{"approved":true,"by":"ann"}}`},
		},
		{
			name:   "UpdateTask with nil output sends an empty object",
			answer: func(w http.ResponseWriter) { _, _ = io.WriteString(w, "t-1") },
			call:   func(e *WorkflowExecutor) error { return e.UpdateTask("t-1", "wf-1", model.FailedTask, nil) },
			want:   seen{method: "POST", path: "/api/tasks", body: `{"workflowInstanceId":"wf-1","taskId":"t-1","status":"FAILED","outputData":{}}`},
		},
		{
			name:   "UpdateTaskByRefName",
			answer: func(w http.ResponseWriter) { _, _ = io.WriteString(w, "t-9") },
			call: func(e *WorkflowExecutor) error {
				return e.UpdateTaskByRefName("approve step", "wf-1", model.CompletedTask, map[string]interface{}{"ok": true})
			},
			want: seen{method: "POST", path: "/api/tasks/wf-1/approve%20step/COMPLETED", body: `{"ok":true}`},
		},
		{
			name:   "StartWorkflow",
			answer: func(w http.ResponseWriter) { _, _ = io.WriteString(w, "wf-new") },
			call: func(e *WorkflowExecutor) error {
				id, err := e.StartWorkflow(&model.StartWorkflowRequest{Name: "flow", Input: map[string]interface{}{"x": 1}})
				if err == nil && id != "wf-new" {
					return errors.New("id = " + id)
				}
				return err
			},
			want: seen{method: "POST", path: "/api/workflow", body: `{"name":"flow","input":{"x":1}}`},
		},
		{
			name: "GetWorkflow",
			answer: func(w http.ResponseWriter) {
				writeJSON(w, model.Workflow{WorkflowId: "wf-1", Status: model.WorkflowRunning, Tasks: []model.Task{{TaskId: "a"}}})
			},
			call: func(e *WorkflowExecutor) error {
				wf, err := e.GetWorkflow("wf-1", true)
				if err == nil && (wf.Status != model.WorkflowRunning || len(wf.Tasks) != 1) {
					return errors.New("workflow not decoded")
				}
				return err
			},
			want: seen{method: "GET", path: "/api/workflow/wf-1", query: "includeTasks=true"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, requests := server(t, func(w http.ResponseWriter, r *http.Request) { tc.answer(w) })
			if err := tc.call(e); err != nil {
				t.Fatal(err)
			}
			got := requests()
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("requests = %+v\nwant [%+v]", got, tc.want)
			}
		})
	}
}

func TestOutputMustBeAJSONObject(t *testing.T) {
	e, requests := server(t, func(w http.ResponseWriter, r *http.Request) {})
	for _, output := range []interface{}{[]int{1}, "text", 42, make(chan int)} {
		err := e.UpdateTask("t", "w", model.CompletedTask, output)
		if err == nil {
			t.Fatalf("output %T accepted", output)
		}
		if typ := fmt.Sprintf("%T", output); !strings.Contains(err.Error(), "type "+typ) {
			t.Errorf("error %q does not name the type %s", err, typ)
		}
		if err := e.UpdateTaskByRefName("r", "w", model.CompletedTask, output); err == nil {
			t.Fatalf("ref-name update accepted output %T", output)
		}
	}
	if n := len(requests()); n != 0 {
		t.Fatalf("%d requests sent for invalid outputs", n)
	}
}

func TestErrorsAndContexts(t *testing.T) {
	e, requests := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		_, _ = io.WriteString(w, `{"status":404,"message":"No such task found by id: nope"}`)
	})
	if _, err := e.GetTask("nope"); !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "No such task") {
		t.Fatalf("GetTask unknown: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := len(requests())
	if _, err := e.GetTaskContext(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
	if err := e.UpdateTaskContext(ctx, "t", "w", model.CompletedTask, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
	if len(requests()) != before {
		t.Fatal("a request went out on a canceled context")
	}
	// The ref-name endpoint answers 200 with no body when nothing matched.
	e2, _ := server(t, func(w http.ResponseWriter, r *http.Request) {})
	if err := e2.UpdateTaskByRefName("missing", "wf", model.CompletedTask, nil); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("ref name without a running task: %v", err)
	}
}

func TestNilClientIsAnError(t *testing.T) {
	e := NewWorkflowExecutor(nil)
	if _, err := e.GetTask("t"); err == nil {
		t.Fatal("GetTask on a nil client returned no error")
	}
	if err := e.UpdateTask("t", "w", model.CompletedTask, nil); err == nil {
		t.Fatal("UpdateTask on a nil client returned no error")
	}
	if _, err := e.StartWorkflow(&model.StartWorkflowRequest{Name: "f"}); err == nil {
		t.Fatal("StartWorkflow on a nil client returned no error")
	}
}
