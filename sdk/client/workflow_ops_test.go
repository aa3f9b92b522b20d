package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/baton-go/baton/internal/wfapi"
	"github.com/baton-go/baton/sdk/model"
)

// The requests the workflow management calls send, as Conductor OSS's
// WorkflowResource expects them (test/integration runs them against the
// real servers).
func TestWorkflowOpsRequests(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/rerun"):
			writeText(w, "wf-1")
		case strings.HasSuffix(r.URL.Path, "/correlated"):
			writeJSON(w, 200, map[string][]model.Workflow{"c1": {{WorkflowId: "a"}}})
		case strings.HasSuffix(r.URL.Path, "/search"):
			writeJSON(w, 200, map[string]interface{}{"totalHits": 1, "results": []map[string]interface{}{{"workflowId": "a", "workflowType": "wf", "status": "RUNNING"}}})
		case strings.Contains(r.URL.Path, "/running/"):
			writeJSON(w, 200, []string{"a"})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	wc := newClient(t, f.URL, nil).workflows()
	ctx := context.Background()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(wc.Pause(ctx, "wf-1"))
	check(wc.Resume(ctx, "wf-1"))
	check(wc.Restart(ctx, "wf-1", true))
	check(wc.Retry(ctx, "wf-1", true))
	id, err := wc.Rerun(ctx, "wf-1", model.RerunWorkflowRequest{ReRunFromTaskId: "t-9", TaskInput: map[string]interface{}{"k": 1}})
	check(err)
	if id != "wf-1" {
		t.Errorf("Rerun id %q", id)
	}
	check(wc.SkipTask(ctx, "wf-1", "step/1"))
	many, err := wc.ByCorrelationIDs(ctx, "order", []string{"c1", "c2"}, wfapi.CorrelationQuery{IncludeTasks: true})
	check(err)
	if len(many["c1"]) != 1 {
		t.Errorf("ByCorrelationIDs: %v", many)
	}
	res, err := wc.Search(ctx, wfapi.SearchQuery{Query: "status IN (RUNNING)", Sort: "startTime:DESC", Start: 10, Size: 5})
	check(err)
	if res.TotalHits != 1 || len(res.Results) != 1 || res.Results[0].WorkflowId != "a" || res.Results[0].Status != model.WorkflowRunning {
		t.Errorf("Search: %+v", res)
	}
	ids, err := wc.Running(ctx, "order", 2)
	check(err)
	if len(ids) != 1 {
		t.Errorf("Running: %v", ids)
	}

	want := []struct{ method, path, query, body string }{
		{"PUT", "/api/workflow/wf-1/pause", "", ""},
		{"PUT", "/api/workflow/wf-1/resume", "", ""},
		{"POST", "/api/workflow/wf-1/restart", "useLatestDefinitions=true", ""},
		{"POST", "/api/workflow/wf-1/retry", "resumeSubworkflowTasks=true", ""},
		{"POST", "/api/workflow/wf-1/rerun", "", `{"reRunFromWorkflowId":"wf-1","reRunFromTaskId":"t-9","taskInput":{"k":1}}`},
		{"PUT", "/api/workflow/wf-1/skiptask/step%2F1", "", ""},
		{"POST", "/api/workflow/order/correlated", "includeClosed=false&includeTasks=true", `["c1","c2"]`},
		{"GET", "/api/workflow/search", "query=status+IN+%28RUNNING%29&size=5&sort=startTime%3ADESC&start=10", ""},
		{"GET", "/api/workflow/running/order", "version=2", ""},
	}
	got := f.requests()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.method || g.RawPath != w.path || g.Query != w.query || strings.TrimSpace(g.Body) != w.body {
			t.Errorf("request %d: %s %s?%s %s\nwant %s %s?%s %s", i, g.Method, g.RawPath, g.Query, g.Body, w.method, w.path, w.query, w.body)
		}
	}
}

// A call that changes a workflow is not sent again once the server may
// have acted on it: a 502 from a proxy to Restart is the caller's to judge
// (the server may have restarted the workflow), while a read is retried.
func TestWorkflowOpsNotResentAfterServerReached(t *testing.T) {
	var calls atomic.Int32
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, http.StatusBadGateway, map[string]interface{}{"status": 502, "message": "bad gateway"})
	})
	wc := newClient(t, f.URL, nil).workflows()
	for name, call := range map[string]func() error{
		"restart": func() error { return wc.Restart(context.Background(), "wf", false) },
		"retry":   func() error { return wc.Retry(context.Background(), "wf", false) },
		"resume":  func() error { return wc.Resume(context.Background(), "wf") },
		"skip":    func() error { return wc.SkipTask(context.Background(), "wf", "t") },
		"rerun": func() error {
			_, err := wc.Rerun(context.Background(), "wf", model.RerunWorkflowRequest{})
			return err
		},
	} {
		calls.Store(0)
		if err := call(); err == nil {
			t.Errorf("%s: no error for a 502", name)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%s: sent %d times, want once", name, n)
		}
	}
	calls.Store(0)
	if _, err := wc.Running(context.Background(), "wf", 1); err == nil {
		t.Error("running: no error")
	}
	if n := calls.Load(); n < 2 {
		t.Errorf("a read was sent %d times, want retries", n)
	}
}

// Bad arguments are refused before anything is sent, naming what is
// missing.
func TestWorkflowOpsRefuseEmptyArguments(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("request sent: %s %s", r.Method, r.URL) })
	wc := newClient(t, f.URL, nil).workflows()
	ctx := context.Background()
	for name, err := range map[string]error{
		"pause": wc.Pause(ctx, ""),
		"skip":  wc.SkipTask(ctx, "wf", ""),
		"corr": func() error {
			_, err := wc.ByCorrelationIDs(ctx, "", []string{"c"}, wfapi.CorrelationQuery{})
			return err
		}(),
		"running": func() error { _, err := wc.Running(ctx, "", 0); return err }(),
		"execute": func() error {
			_, err := wc.Execute(ctx, &model.StartWorkflowRequest{}, wfapi.ExecuteOptions{})
			return err
		}(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// StartMany returns one result per request, in order, the failures beside
// the successes.
func TestStartManyKeepsOrderAndFailures(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var req model.StartWorkflowRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Name == "missing" {
			writeJSON(w, 404, map[string]interface{}{"status": 404, "message": "No such workflow defined. name=missing, version=null"})
			return
		}
		writeText(w, "id-"+req.Name)
	})
	wc := newClient(t, f.URL, nil).workflows()
	var reqs []*model.StartWorkflowRequest
	for _, n := range []string{"a", "missing", "c", "d", "e", "f"} {
		reqs = append(reqs, &model.StartWorkflowRequest{Name: n})
	}
	res := wc.StartMany(context.Background(), reqs, 3)
	for i, r := range res {
		name := reqs[i].Name
		if name == "missing" {
			if !errors.Is(r.Err, ErrNotFound) || r.WorkflowID != "" {
				t.Errorf("result %d: %+v, want not found", i, r)
			}
			continue
		}
		if r.Err != nil || r.WorkflowID != "id-"+name {
			t.Errorf("result %d: %+v, want id-%s", i, r, name)
		}
	}
}

// Wait looks until the workflow has finished, or the awaited task has,
// and gives the last state back with the context's error when that ends
// first.
func TestWaitUntilFinishedOrTask(t *testing.T) {
	var gets atomic.Int32
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		n := gets.Add(1)
		wf := model.Workflow{WorkflowId: "wf", Status: model.WorkflowRunning,
			Tasks: []model.Task{{ReferenceTaskName: "first", Status: model.TaskInProgress}}}
		if n >= 3 {
			wf.Tasks[0].Status = model.TaskCompleted
		}
		if n >= 5 {
			wf.Status = model.WorkflowCompleted
		}
		writeJSON(w, 200, wf)
	})
	wc := newClient(t, f.URL, nil).workflows()
	wf, err := wc.Wait(context.Background(), "wf", wfapi.WaitOptions{UntilTaskRef: "first", Every: 1})
	if err != nil || wf.Status != model.WorkflowRunning || gets.Load() != 3 {
		t.Fatalf("until task: %v, %+v after %d looks; want RUNNING after 3", err, wf, gets.Load())
	}
	wf, err = wc.Wait(context.Background(), "wf", wfapi.WaitOptions{Every: 1})
	if err != nil || wf.Status != model.WorkflowCompleted || gets.Load() != 5 {
		t.Fatalf("until finished: %v, %+v after %d looks; want COMPLETED after 5", err, wf, gets.Load())
	}

	gets.Store(0)
	ctx, cancel := context.WithCancel(context.Background())
	stuck := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if gets.Add(1) == 2 {
			cancel()
		}
		writeJSON(w, 200, model.Workflow{WorkflowId: "wf", Status: model.WorkflowRunning})
	})
	wf, err = newClient(t, stuck.URL, nil).workflows().Wait(ctx, "wf", wfapi.WaitOptions{Every: 1})
	if !errors.Is(err, context.Canceled) || wf == nil || wf.WorkflowId != "wf" || wf.Status != model.WorkflowRunning {
		t.Fatalf("ended context: %v, %+v; want context.Canceled with the running workflow", err, wf)
	}
}

// Execute on a server without the endpoint (3.21.14 answers a route it
// does not have with 404 "No static resource") is ErrNotSupported; a 404
// for an unknown workflow stays ErrNotFound.
func TestExecuteWithoutTheEndpoint(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/unknown/") {
			writeJSON(w, 404, map[string]interface{}{"status": 404, "message": "No such workflow defined. name=unknown, version=null"})
			return
		}
		writeJSON(w, 404, map[string]interface{}{"status": 404, "message": "No static resource api/workflow/execute/wf/1."})
	})
	wc := newClient(t, f.URL, nil).workflows()
	_, err := wc.Execute(context.Background(), &model.StartWorkflowRequest{Name: "wf", Version: 1}, wfapi.ExecuteOptions{})
	if !errors.Is(err, ErrNotSupported) {
		t.Errorf("missing endpoint: %v, want ErrNotSupported", err)
	}
	_, err = wc.Execute(context.Background(), &model.StartWorkflowRequest{Name: "unknown"}, wfapi.ExecuteOptions{})
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotSupported) {
		t.Errorf("unknown workflow: %v, want ErrNotFound only", err)
	}
	got := f.requests()
	if got[0].Method != "POST" || got[0].Path != "/api/workflow/execute/wf/1" {
		t.Errorf("request %s %s", got[0].Method, got[0].Path)
	}
}
