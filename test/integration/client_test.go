package integration

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

func TestMetadataTaskDefs(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, time.Minute)
	md := executor.NewWorkflowExecutor(env.api)
	name := uniq("meta_task")

	registerTask(t, model.TaskDef{Name: name, RetryCount: 2, RetryLogic: model.RetryExponentialBackoff, RetryDelaySeconds: 3, ResponseTimeoutSeconds: 20})
	got, err := md.GetTaskDefContext(ctx, name)
	if err != nil {
		t.Fatalf("GetTaskDef: %v", err)
	}
	if got.Name != name || got.RetryCount != 2 || got.RetryLogic != model.RetryExponentialBackoff || got.RetryDelaySeconds != 3 ||
		got.ResponseTimeoutSeconds != 20 || got.OwnerEmail != owner {
		t.Fatalf("GetTaskDef = %+v, want what was registered", got)
	}
	// Defaults the server fills in for fields left out.
	if got.TimeoutPolicy != model.TimeoutPolicyTimeOutWF {
		t.Errorf("timeoutPolicy = %q, want the server default %q", got.TimeoutPolicy, model.TimeoutPolicyTimeOutWF)
	}

	upd := *got
	upd.Description = "changed by the integration suite"
	upd.RetryCount = 0
	if err := md.UpdateTaskDefContext(ctx, upd); err != nil {
		t.Fatalf("UpdateTaskDef: %v", err)
	}
	got, err = md.GetTaskDefContext(ctx, name)
	if err != nil {
		t.Fatalf("GetTaskDef after update: %v", err)
	}
	if got.Description != upd.Description || got.RetryCount != 0 {
		t.Fatalf("after update: description %q retryCount %d, want %q and 0", got.Description, got.RetryCount, upd.Description)
	}

	_, err = md.GetTaskDefContext(ctx, uniq("meta_missing"))
	wantErrIs(t, err, client.ErrNotFound, "GetTaskDef of an unknown name")
	err = md.UpdateTaskDefContext(ctx, model.TaskDef{Name: uniq("meta_missing"), OwnerEmail: owner})
	wantErrIs(t, err, client.ErrNotFound, "UpdateTaskDef of an unknown name")

	// Conductor 3.21 requires ownerEmail by default; 3.32 does not.
	err = md.RegisterTaskDefsContext(ctx, model.TaskDef{Name: uniq("meta_noowner")})
	switch env.version {
	case conductortest.Version321:
		wantErrIs(t, err, client.ErrBadRequest, "RegisterTaskDefs without ownerEmail")
		wantBodyMentions(t, err, "ownerEmail")
	case conductortest.Version332:
		if err != nil {
			t.Fatalf("RegisterTaskDefs without ownerEmail on %s: %v, want it accepted", env.version, err)
		}
	default:
		t.Logf("server version unknown: not checking whether ownerEmail is required (got %v)", err)
	}
	// responseTimeoutSeconds (default 3600) must not exceed timeoutSeconds.
	err = md.RegisterTaskDefsContext(ctx, model.TaskDef{Name: uniq("meta_timeouts"), OwnerEmail: owner, TimeoutSeconds: 60})
	wantErrIs(t, err, client.ErrBadRequest, "RegisterTaskDefs with timeoutSeconds below the response timeout")
	wantBodyMentions(t, err, "responseTimeoutSeconds")
}

func TestMetadataWorkflowDefs(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, time.Minute)
	md := executor.NewWorkflowExecutor(env.api)
	task := uniq("meta_wf_task")
	name := uniq("meta_wf")
	registerTask(t, model.TaskDef{Name: task})
	def := model.WorkflowDef{Name: name, Version: 1, Tasks: []model.WorkflowTask{{Name: task, TaskReferenceName: "a"}}}
	registerWorkflow(t, def)

	def.OwnerEmail = owner
	err := md.RegisterWorkflowContext(ctx, false, &def)
	wantErrIs(t, err, client.ErrConflict, "registering the same name and version again")

	v2 := def
	v2.Version = 2
	v2.Tasks = []model.WorkflowTask{{Name: task, TaskReferenceName: "a", Type: model.TaskTypeSimple}, {Name: task, TaskReferenceName: "b", Type: model.TaskTypeSimple}}
	if err := md.RegisterWorkflowContext(ctx, true, &v2); err != nil {
		t.Fatalf("UpdateWorkflowDefs: %v", err)
	}
	latest, err := md.GetWorkflowDefContext(ctx, name, 0)
	if err != nil {
		t.Fatalf("GetWorkflowDef latest: %v", err)
	}
	if latest.Version != 2 || len(latest.Tasks) != 2 {
		t.Fatalf("latest = version %d with %d tasks, want version 2 with 2", latest.Version, len(latest.Tasks))
	}
	first, err := md.GetWorkflowDefContext(ctx, name, 1)
	if err != nil {
		t.Fatalf("GetWorkflowDef v1: %v", err)
	}
	if first.Version != 1 || len(first.Tasks) != 1 || first.Tasks[0].TaskReferenceName != "a" {
		t.Fatalf("version 1 = %+v, want the registered one", first)
	}
	_, err = md.GetWorkflowDefContext(ctx, name, 9)
	wantErrIs(t, err, client.ErrNotFound, "GetWorkflowDef of an unknown version")
	_, err = md.GetWorkflowDefContext(ctx, uniq("meta_wf_missing"), 0)
	wantErrIs(t, err, client.ErrNotFound, "GetWorkflowDef of an unknown name")

	err = md.RegisterWorkflowContext(ctx, false, &model.WorkflowDef{Name: uniq("meta_wf_noowner"), Tasks: []model.WorkflowTask{{Name: task, TaskReferenceName: "a", Type: model.TaskTypeSimple}}})
	switch env.version {
	case conductortest.Version321:
		wantErrIs(t, err, client.ErrBadRequest, "RegisterWorkflowDef without ownerEmail")
	case conductortest.Version332:
		if err != nil {
			t.Fatalf("RegisterWorkflowDef without ownerEmail on %s: %v, want it accepted", env.version, err)
		}
	default:
		t.Logf("server version unknown: not checking whether ownerEmail is required (got %v)", err)
	}
	err = md.RegisterWorkflowContext(ctx, false, &model.WorkflowDef{Name: uniq("meta_wf_dupref"), OwnerEmail: owner, Tasks: []model.WorkflowTask{
		{Name: task, TaskReferenceName: "x", Type: model.TaskTypeSimple}, {Name: task, TaskReferenceName: "x", Type: model.TaskTypeSimple}}})
	wantErrIs(t, err, client.ErrBadRequest, "RegisterWorkflowDef with a duplicate reference name")
}

func TestStartGetTerminate(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, time.Minute)
	wfc := executor.NewWorkflowExecutor(env.api)
	task := uniq("sgt_task")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task})

	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName, CorrelationId: "corr-1", Input: map[string]interface{}{"n": 41}})
	byName, err := wfc.StartWorkflowContext(ctx, &model.StartWorkflowRequest{Name: wfName, CorrelationId: "corr-2", Input: map[string]interface{}{"n": 42}})
	if err != nil {
		t.Fatalf("StartWorkflow: %v", err)
	}
	if byName == id {
		t.Fatalf("two starts returned the same id %s", id)
	}

	for _, c := range []struct {
		id   string
		corr string
		n    int
	}{{id, "corr-1", 41}, {byName, "corr-2", 42}} {
		wf := getWorkflow(t, c.id)
		if wf.WorkflowId != c.id || wf.WorkflowName != wfName || wf.WorkflowVersion != 1 || wf.Status != model.WorkflowRunning || wf.CorrelationId != c.corr {
			t.Fatalf("workflow %s = id %s name %s v%d status %s corr %q", c.id, wf.WorkflowId, wf.WorkflowName, wf.WorkflowVersion, wf.Status, wf.CorrelationId)
		}
		if len(wf.Tasks) != 1 {
			t.Fatalf("workflow %s has %d tasks, want the first one scheduled", c.id, len(wf.Tasks))
		}
		tk := wf.Tasks[0]
		if tk.Status != model.TaskScheduled || tk.TaskType != task || tk.ReferenceTaskName != "only" || tk.WorkflowInstanceId != c.id {
			t.Fatalf("first task = %s %s ref %s wf %s", tk.TaskType, tk.Status, tk.ReferenceTaskName, tk.WorkflowInstanceId)
		}
		if got := number(t, tk.InputData["n"], "task input n"); got != c.n {
			t.Fatalf("task input n = %d, want %d (from ${workflow.input.n})", got, c.n)
		}
	}

	slim, err := wfc.GetWorkflowContext(ctx, id, false)
	if err != nil {
		t.Fatalf("Get without tasks: %v", err)
	}
	if len(slim.Tasks) != 0 || slim.Status != model.WorkflowRunning {
		t.Fatalf("Get(includeTasks=false) = status %s with %d tasks, want RUNNING and none", slim.Status, len(slim.Tasks))
	}

	if err := wfc.TerminateContext(ctx, id, "stopped by the integration suite"); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	wf := getWorkflow(t, id)
	if wf.Status != model.WorkflowTerminated || wf.ReasonForIncompletion != "stopped by the integration suite" {
		t.Fatalf("after Terminate: status %s reason %q", wf.Status, wf.ReasonForIncompletion)
	}
	if wf.Tasks[0].Status != model.TaskCanceled {
		t.Fatalf("task of a terminated workflow is %s, want CANCELED", wf.Tasks[0].Status)
	}
	// Terminating again is accepted (the real server answers 200).
	if err := wfc.TerminateContext(ctx, id, "again"); err != nil {
		t.Fatalf("second Terminate: %v", err)
	}

	// The other workflow's task is still there; the canceled one is not.
	tk := pollTask(t, task, "", "it-sgt")
	if tk.WorkflowInstanceId != byName {
		t.Fatalf("polled a task of workflow %s, want %s (the terminated workflow's task must be gone)", tk.WorkflowInstanceId, byName)
	}
	update(t, result(tk, model.CompletedTask, map[string]interface{}{"done": true}))
	waitWorkflow(t, byName, model.WorkflowCompleted)
	err = wfc.TerminateContext(ctx, byName, "too late")
	wantErrIs(t, err, client.ErrConflict, "terminating a COMPLETED workflow")

	if err := wfc.RemoveWorkflowContext(ctx, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = wfc.GetWorkflowContext(ctx, id, true)
	wantErrIs(t, err, client.ErrNotFound, "Get after Delete")

	_, err = wfc.GetWorkflowContext(ctx, "00000000-0000-4000-8000-"+env.runID+"0000", true)
	wantErrIs(t, err, client.ErrNotFound, "Get of an unknown workflow")
	err = wfc.TerminateContext(ctx, "00000000-0000-4000-8000-"+env.runID+"0000", "x")
	wantErrIs(t, err, client.ErrNotFound, "Terminate of an unknown workflow")
	_, err = wfc.StartWorkflowContext(ctx, &model.StartWorkflowRequest{Name: uniq("no_such_workflow"), Input: map[string]interface{}{}})
	wantErrIs(t, err, client.ErrNotFound, "Start of an unknown workflow")
}

// wantBodyMentions checks that a validation error tells which field is wrong:
// Conductor puts that in the body's validationErrors list.
func wantBodyMentions(t *testing.T, err error, field string) {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not a *client.APIError", err)
	}
	if !strings.Contains(string(ae.Body), field) && !strings.Contains(ae.Error(), field) {
		t.Errorf("error %q (body %s) does not name %s", ae, ae.Body, field)
	}
}

// TestHealthAndErrorBody checks the two raw HTTP shapes every client relies
// on: the health answer outside /api and the JSON error body.
func TestHealthAndErrorBody(t *testing.T) {
	t.Parallel()
	root := strings.TrimSuffix(env.url, "/api")
	resp, err := env.hc.Get(root + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	var health struct {
		Healthy bool `json:"healthy"`
	}
	err = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !health.Healthy {
		t.Fatalf("GET /health = %d healthy=%v (decode error %v), want 200 and healthy true", resp.StatusCode, health.Healthy, err)
	}

	if env.auth != nil && env.auth.Enabled() {
		t.Log("skipping the raw error-body request: the server needs a token")
		return
	}
	id := "00000000-0000-4000-8000-" + env.runID + "0001"
	resp, err = env.hc.Get(env.url + "/workflow/" + id)
	if err != nil {
		t.Fatalf("GET unknown workflow: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if resp.StatusCode != http.StatusNotFound || e.Status != http.StatusNotFound || !strings.Contains(e.Message, id) {
		t.Fatalf("GET unknown workflow = %d %s, want 404 with status 404 and a message naming the id", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
}
