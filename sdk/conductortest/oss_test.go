package conductortest_test

// Black-box checks of behaviour observed on Conductor OSS 3.21.14 (see
// /work/notes/real-server-findings.md in the project): one test per
// finding, asserting the status, Content-Type, body shape and texts a
// client sees.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// fullErr is an error body decoded with field presence kept.
type fullErr struct {
	raw              map[string]any
	Status           int
	Message          string
	ValidationErrors []valErr
}

type valErr struct {
	Path         string  `json:"path"`
	Message      string  `json:"message"`
	InvalidValue *string `json:"invalidValue"`
}

func (v valErr) String() string {
	if v.InvalidValue == nil {
		return v.Path + ": " + v.Message
	}
	return fmt.Sprintf("%s: %s (invalidValue %q)", v.Path, v.Message, *v.InvalidValue)
}

func decodeErr(t *testing.T, r resp) fullErr {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, want application/json; body %s", ct, r.body)
	}
	var e struct {
		Status           int      `json:"status"`
		Message          string   `json:"message"`
		ValidationErrors []valErr `json:"validationErrors"`
	}
	r.json(t, &e)
	var raw map[string]any
	r.json(t, &raw)
	return fullErr{raw: raw, Status: e.Status, Message: e.Message, ValidationErrors: e.ValidationErrors}
}

// expectError checks a plain (non-validation) error body: status, message,
// instance present, retryable false, no validationErrors.
func expectError(t *testing.T, a *api, status int, method, path string, body any, message string) {
	t.Helper()
	e := decodeErr(t, a.expect(status, method, path, body))
	if e.Status != status || e.Message != message {
		t.Fatalf("%s %s: error %d %q, want %d %q", method, path, e.Status, e.Message, status, message)
	}
	if _, ok := e.raw["instance"].(string); !ok {
		t.Fatalf("%s %s: no instance in %v", method, path, e.raw)
	}
	if r, ok := e.raw["retryable"]; !ok || r != false {
		t.Fatalf("%s %s: retryable %v, want false", method, path, r)
	}
	if _, ok := e.raw["validationErrors"]; ok {
		t.Fatalf("%s %s: unexpected validationErrors in %v", method, path, e.raw)
	}
}

// expectInvalid checks a bean-validation 400: the generic message, no
// instance, and exactly these validation errors (in any order).
func expectInvalid(t *testing.T, a *api, method, path string, body any, want ...valErr) {
	t.Helper()
	e := decodeErr(t, a.expect(400, method, path, body))
	if e.Message != "Validation failed, check below errors for detail." {
		t.Fatalf("message %q", e.Message)
	}
	if _, ok := e.raw["instance"]; ok {
		t.Fatalf("validation error with instance: %v", e.raw)
	}
	got := make([]string, len(e.ValidationErrors))
	for i, v := range e.ValidationErrors {
		got[i] = v.String()
	}
	exp := make([]string, len(want))
	for i, v := range want {
		exp[i] = v.String()
	}
	sort.Strings(got)
	sort.Strings(exp)
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("%s %s validation errors:\n got  %q\n want %q", method, path, got, exp)
	}
}

func strp(s string) *string { return &s }

// expectUnknownTask checks the answer to GET /tasks/{id} for an unknown id:
// 204 without a body on 3.21, a 404 error on 3.32.
func expectUnknownTask(t *testing.T, a *api, id string) {
	t.Helper()
	if a.is321() {
		a.expect(204, "GET", "/tasks/"+id, nil)
		return
	}
	expectError(t, a, 404, "GET", "/tasks/"+id, nil, "Task not found for taskId: "+id)
}

// expectDeleteUnknownWorkflowDef checks the answer to deleting a workflow
// definition that does not exist: 404 on 3.21 (and 3.32 with Redis), 500
// on 3.32 with SQLite.
func expectDeleteUnknownWorkflowDef(t *testing.T, a *api, name string, version int) {
	t.Helper()
	path := fmt.Sprintf("/metadata/workflow/%s/%d", name, version)
	if !a.sqlite() {
		expectError(t, a, 404, "DELETE", path, nil, fmt.Sprintf("Cannot remove the workflow - no such workflow definition: %s version: %d", name, version))
		return
	}
	expectError(t, a, 500, "DELETE", path, nil, fmt.Sprintf("No such workflow definition: %s version: %d", name, version))
}

// methodStatus is the status of a known path with an unsupported method:
// 500 on 3.21 (Spring's exception is not mapped), 405 on 3.32.
func (a *api) methodStatus() int {
	if a.is321() {
		return 500
	}
	return 405
}

// expectEmpty checks a 200 with no body and no Content-Type.
func expectEmpty(t *testing.T, r resp) {
	t.Helper()
	if len(r.body) != 0 || r.header.Get("Content-Type") != "" {
		t.Fatalf("want an empty answer without Content-Type, got %q (%q)", r.body, r.header.Get("Content-Type"))
	}
}

func TestOSSHealth(t *testing.T) {
	a := newAPI(t)
	res, err := a.client.Get(a.root + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = jsonDecode(res.Body, &body)
	res.Body.Close()
	want := map[string]any{"healthResults": []any{}, "suppressedHealthResults": []any{}, "healthy": true}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || !reflect.DeepEqual(body, want) {
		t.Fatalf("/health: %d %q %v", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	// /api/health does not exist on OSS 3.21; 3.32 serves it as /health.
	if a.is321() {
		expectError(t, a, 404, "GET", "/health", nil, "No static resource api/health.")
	} else {
		a.expect(200, "GET", "/health", nil).json(t, &body)
		if !reflect.DeepEqual(body, want) {
			t.Fatalf("/api/health: %v", body)
		}
	}
	res, err = a.client.Get(a.root + "/actuator/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Fatalf("/actuator/health: %d, want 503 as on OSS", res.StatusCode)
	}
}

func TestOSSUnknownPathAndMethod(t *testing.T) {
	a := newAPI(t)
	expectError(t, a, 404, "GET", "/nosuch/path?x=1", nil, "No static resource api/nosuch/path.")
	expectError(t, a, 404, "POST", "/token", map[string]string{"keyId": "a", "keySecret": "b"}, "No static resource api/token.")
	expectError(t, a, a.methodStatus(), "PUT", "/tasks/poll/batch/x", nil, "Request method 'PUT' is not supported")
	a.expect(200, "HEAD", "/tasks/poll/batch/x", nil)
}

func TestOSSContentType(t *testing.T) {
	a := newAPI(t)
	cases := []struct{ ctype, shown string }{
		{"text/plain", "text/plain;charset=UTF-8"},
		{"", "application/octet-stream"},
	}
	for _, c := range cases {
		for _, path := range []string{"/tasks", "/metadata/taskdefs", "/workflow"} {
			req, _ := http.NewRequest("POST", a.base+path, strings.NewReader(`{}`))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			res, err := a.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e errBody
			_ = jsonDecode(res.Body, &e)
			res.Body.Close()
			want := "Content-Type '" + c.shown + "' is not supported"
			if res.StatusCode != 500 || e.Message != want {
				t.Fatalf("POST %s with %q: %d %q, want 500 %q", path, c.ctype, res.StatusCode, e.Message, want)
			}
		}
	}
	// A charset parameter is fine.
	req, _ := http.NewRequest("POST", a.base+"/tasks", strings.NewReader(`{"workflowInstanceId":"nope","taskId":"nope","status":"COMPLETED"}`))
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	res, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("application/json;charset=UTF-8: %d, want 404 (unknown workflow)", res.StatusCode)
	}
}

func TestOSSTaskDefValidation(t *testing.T) {
	a := newAPI(t)
	x := a.name("x")
	if a.is321() {
		expectInvalid(t, a, "POST", "/metadata/taskdefs", `[{"name":"x"}]`,
			valErr{Path: "registerTaskDef.arg0[0].ownerEmail", Message: "ownerEmail cannot be empty"})
		expectInvalid(t, a, "PUT", "/metadata/taskdefs", `{"name":"x"}`,
			valErr{Path: "updateTaskDef.arg0.ownerEmail", Message: "ownerEmail cannot be empty"})
	} else {
		noOwner := a.name("noowner")
		expectEmpty(t, a.expect(200, "POST", "/metadata/taskdefs", `[{"name":"`+noOwner+`"}]`))
		expectEmpty(t, a.expect(200, "PUT", "/metadata/taskdefs", `{"name":"`+noOwner+`"}`))
	}
	expectInvalid(t, a, "POST", "/metadata/taskdefs", `[{"name":"ok","ownerEmail":"a@b.c"},{"ownerEmail":"a@b.c"}]`,
		valErr{Path: "registerTaskDef.arg0[1].name", Message: "TaskDef name cannot be null or empty"})
	expectInvalid(t, a, "POST", "/metadata/taskdefs", `[]`,
		valErr{Path: "registerTaskDef.arg0", Message: "TaskDefList is empty"})
	expectInvalid(t, a, "POST", "/metadata/taskdefs", `[{"name":"n","ownerEmail":"a@b.c","timeoutSeconds":60}]`,
		valErr{Path: "registerTaskDef.arg0[0]", Message: "TaskDef: n responseTimeoutSeconds: 3600 must be less than timeoutSeconds: 60"})
	expectInvalid(t, a, "POST", "/metadata/taskdefs", `[{"name":"v2","ownerEmail":"a@b.c","timeoutSeconds":10,"totalTimeoutSeconds":5,"responseTimeoutSeconds":5}]`,
		valErr{Path: "registerTaskDef.arg0[0]", Message: "TaskDef: v2 timeoutSeconds: 10 must be less than or equal to totalTimeoutSeconds: 5"})
	// The odd texts (the bound printed where the value should be) are the
	// real server's; negative limits are accepted there.
	expectInvalid(t, a, "POST", "/metadata/taskdefs",
		`[{"name":"v1","ownerEmail":"a@b.c","retryCount":-1,"responseTimeoutSeconds":0,"backoffScaleFactor":0,"pollTimeoutSeconds":-1,"rateLimitPerFrequency":-1,"concurrentExecLimit":-1}]`,
		valErr{Path: "registerTaskDef.arg0[0].backoffScaleFactor", Message: "Backoff scale factor. Applicable for LINEAR_BACKOFF", InvalidValue: strp("0")},
		valErr{Path: "registerTaskDef.arg0[0].responseTimeoutSeconds", Message: "TaskDef responseTimeoutSeconds: 0 should be minimum 1 second", InvalidValue: strp("0")},
		valErr{Path: "registerTaskDef.arg0[0].retryCount", Message: "TaskDef retryCount: 0 must be >= 0", InvalidValue: strp("-1")},
		valErr{Path: "registerTaskDef.arg0[0].pollTimeoutSeconds", Message: "TaskDef pollTimeoutSeconds: 0 must be >= 0", InvalidValue: strp("-1")})

	e := decodeErr(t, a.expect(500, "POST", "/metadata/taskdefs", `[{"name":"v3","ownerEmail":"a@b.c","timeoutPolicy":"NOPE"}]`))
	if !strings.Contains(e.Message, `TaskDef$TimeoutPolicy`+"` from String \"NOPE\": not one of the values accepted for Enum class: [RETRY, TIME_OUT_WF, ALERT_ONLY]") {
		t.Fatalf("bad enum message %q", e.Message)
	}
	if e := decodeErr(t, a.expect(500, "POST", "/metadata/taskdefs", `{"name":"x","ownerEmail":"a@b.c"}`)); !strings.HasPrefix(e.Message, "JSON parse error: ") {
		t.Fatalf("single object: %q", e.Message)
	}
	expectEmpty(t, a.expect(200, "POST", "/metadata/taskdefs", `[{"name":"`+x+`","ownerEmail":"a@b.c"}]`))
	expectEmpty(t, a.expect(200, "POST", "/metadata/taskdefs", `[{"name":"`+x+`","ownerEmail":"a@b.c","retryCount":1}]`)) // upsert
	expectEmpty(t, a.expect(200, "PUT", "/metadata/taskdefs", `{"name":"`+x+`","ownerEmail":"a@b.c"}`))
	expectError(t, a, 404, "PUT", "/metadata/taskdefs", `{"name":"nope","ownerEmail":"a@b.c"}`, "No such task by name nope")
	expectError(t, a, 404, "GET", "/metadata/taskdefs/nope", nil, "No such taskType found by name: nope")
	if !a.sqlite() {
		expectError(t, a, 404, "DELETE", "/metadata/taskdefs/nope", nil, "Cannot remove the task - no such task definition")
	} else {
		expectError(t, a, 500, "DELETE", "/metadata/taskdefs/nope", nil, "No such task definition")
	}
}

func TestOSSWorkflowDefValidation(t *testing.T) {
	a := newAPI(t)
	wv, wz, wa := a.name("wv"), a.name("wz"), a.name("wa")
	wf := func(tasks string) string {
		return `{"name":"` + wv + `","ownerEmail":"a@b.c","tasks":[` + tasks + `]}`
	}
	if a.is321() {
		expectInvalid(t, a, "POST", "/metadata/workflow", `{"name":"wv","tasks":[{"name":"t","taskReferenceName":"r"}]}`,
			valErr{Path: "registerWorkflowDef.arg0.ownerEmail", Message: "ownerEmail cannot be empty"})
		expectInvalid(t, a, "PUT", "/metadata/workflow", `[{"name":"w","tasks":[{"name":"t","taskReferenceName":"r"}]}]`,
			valErr{Path: "updateWorkflowDef.arg0[0].ownerEmail", Message: "ownerEmail cannot be empty"})
	} else {
		noOwner := a.name("wnoowner")
		expectEmpty(t, a.expect(200, "POST", "/metadata/workflow", `{"name":"`+noOwner+`","tasks":[{"name":"t","taskReferenceName":"r"}]}`))
		a.expect(200, "PUT", "/metadata/workflow", `[{"name":"`+noOwner+`","version":2,"tasks":[{"name":"t","taskReferenceName":"r"}]}]`)
	}
	expectInvalid(t, a, "POST", "/metadata/workflow", wf(""),
		valErr{Path: "registerWorkflowDef.arg0.tasks", Message: "WorkflowTask list cannot be empty"})
	expectInvalid(t, a, "POST", "/metadata/workflow",
		wf(`{"name":"tn","taskReferenceName":"tr","type":"SIMPLE","inputParameters":{"q":"${nosuch.output}","q2":"a-${other.output.x}","ok":"${workflow.input.x}"}}`),
		valErr{Path: "registerWorkflowDef.arg0", Message: "taskReferenceName: nosuch for given task: tn input value: q of input parameter: ${nosuch.output} is not defined in workflow definition."},
		valErr{Path: "registerWorkflowDef.arg0", Message: "taskReferenceName: other for given task: tn input value: q2 of input parameter: a-${other.output.x} is not defined in workflow definition."})
	expectInvalid(t, a, "POST", "/metadata/workflow",
		wf(`{"name":"tn","taskReferenceName":"tr","type":"SIMPLE"},{"name":"tn2","taskReferenceName":"tr","type":"SIMPLE"}`),
		valErr{Path: "registerWorkflowDef.arg0", Message: "taskReferenceName: tr should be unique across tasks for a given workflowDefinition: " + wv})
	expectInvalid(t, a, "POST", "/metadata/workflow", `{"ownerEmail":"a@b.c","schemaVersion":1,"version":-1,"tasks":[{"type":"SIMPLE"}]}`,
		valErr{Path: "registerWorkflowDef.arg0.name", Message: "WorkflowDef name cannot be null or empty"},
		valErr{Path: "registerWorkflowDef.arg0.schemaVersion", Message: "workflowDef schemaVersion: 2 is only supported", InvalidValue: strp("1")},
		valErr{Path: "registerWorkflowDef.arg0.tasks[0].taskReferenceName", Message: "WorkflowTask taskReferenceName name cannot be empty or null"},
		valErr{Path: "registerWorkflowDef.arg0.tasks[0].name", Message: "WorkflowTask name cannot be empty or null"})
	// A negative retryCount on the WorkflowTask is accepted there.
	expectInvalid(t, a, "POST", "/metadata/workflow", wf(`{"name":"tn","taskReferenceName":"tr","type":"SIMPLE","startDelay":-1,"retryCount":-2}`),
		valErr{Path: "registerWorkflowDef.arg0.tasks[0].startDelay", Message: "must be greater than or equal to 0", InvalidValue: strp("-1")})

	ok := wf(`{"name":"tn","taskReferenceName":"tr","type":"SIMPLE"}`)
	expectEmpty(t, a.expect(200, "POST", "/metadata/workflow", ok))
	expectError(t, a, 409, "POST", "/metadata/workflow", ok, "Workflow with "+wv+".1 already exists!")
	r := a.expect(200, "PUT", "/metadata/workflow", `[`+strings.Replace(ok, wv, wz, 1)+`,`+strings.Replace(ok, wv, wa, 1)+`]`)
	if r.text() != `{"bulkErrorResults":{},"bulkSuccessfulResults":["`+wz+`","`+wa+`"]}` {
		t.Fatalf("bulk answer %s", r.body)
	}
	expectError(t, a, 404, "GET", "/metadata/workflow/"+wv+"?version=9", nil, "No such workflow found by name: "+wv+", version: 9")
	nope := a.name("nope")
	expectError(t, a, 404, "GET", "/metadata/workflow/"+nope, nil, "No such workflow found by name: "+nope+", version: null")
	expectEmpty(t, a.expect(200, "DELETE", "/metadata/workflow/"+wa+"/1", nil))
	expectDeleteUnknownWorkflowDef(t, a, wa, 1)
}

func TestOSSStartWorkflow(t *testing.T) {
	a := newAPI(t)
	wa, nope := a.name("wa"), a.name("nope")
	a.registerWorkflow(simpleWorkflow(wa, a.name("start_t")))
	expectInvalid(t, a, "POST", "/workflow", `{"name":"`+wa+`","input":{},"priority":100}`,
		valErr{Path: "startWorkflow.arg0.priority", Message: "priority: 100 should be maximum 99", InvalidValue: strp("100")})
	expectInvalid(t, a, "POST", "/workflow", `{"name":"`+wa+`","input":{},"priority":-1}`,
		valErr{Path: "startWorkflow.arg0.priority", Message: "priority: -1 should be minimum 0", InvalidValue: strp("-1")})
	expectInvalid(t, a, "POST", "/workflow", `{"input":{}}`,
		valErr{Path: "startWorkflow.arg0.name", Message: "Workflow name cannot be null or empty"})
	expectInvalid(t, a, "POST", "/workflow/"+wa+"?priority=100", `{}`,
		valErr{Path: "startWorkflow.arg3", Message: "99 is the maximum priority value", InvalidValue: strp("100")})
	expectInvalid(t, a, "POST", "/workflow/"+wa+"?priority=-1", `{}`,
		valErr{Path: "startWorkflow.arg3", Message: "0 is the minimum priority value", InvalidValue: strp("-1")})
	expectError(t, a, 400, "POST", "/workflow", `{"name":"`+wa+`","input":null}`, "NULL input passed when starting workflow")
	expectError(t, a, 404, "POST", "/workflow", `{"name":"`+nope+`","input":{}}`, "No such workflow defined. name="+nope+", version=null")
	expectError(t, a, 404, "POST", "/workflow", `{"name":"`+wa+`","version":5,"input":{}}`, "No such workflow defined. name="+wa+", version=5")
	expectError(t, a, 404, "POST", "/workflow/"+nope, `{}`, "No such workflow found by name: "+nope+", version: null")
	if e := decodeErr(t, a.expect(500, "POST", "/workflow/"+wa, "")); !strings.HasPrefix(e.Message, "Required request body is missing") {
		t.Fatalf("no body: %q", e.Message)
	}
	for _, r := range []resp{
		a.expect(200, "POST", "/workflow", `{"name":"`+wa+`"}`), // input may be left out
		a.expect(200, "POST", "/workflow/"+wa+"?correlationId=c&priority=5", `{"x":1}`),
	} {
		if r.header.Get("Content-Type") != "text/plain;charset=UTF-8" || len(r.body) != 36 || strings.ContainsAny(r.text(), "\"\n") {
			t.Fatalf("start answer %q %q, want a bare id as text/plain", r.header.Get("Content-Type"), r.body)
		}
	}
	expectError(t, a, 404, "GET", "/workflow/nope", nil, "No such workflow found by id: nope")
}

func TestOSSUpdateErrors(t *testing.T) {
	a := newAPI(t)
	updT := a.name("upd_t")
	wfName := a.oneTask(updT)
	wf := a.start(wfName, nil)
	task := a.pollOne(updT)

	expectInvalid(t, a, "POST", "/tasks", `{"status":"COMPLETED"}`,
		valErr{Path: "updateTask.arg0.workflowInstanceId", Message: "Workflow Id cannot be null or empty"},
		valErr{Path: "updateTask.arg0.taskId", Message: "Task ID cannot be null or empty"})
	expectError(t, a, 404, "POST", "/tasks", map[string]any{"workflowInstanceId": "nope", "taskId": task.TaskId, "status": "COMPLETED"}, "No such workflow found by id: nope")
	expectError(t, a, 404, "POST", "/tasks", map[string]any{"workflowInstanceId": wf, "taskId": "nope", "status": "COMPLETED"}, "No such task found by id: nope")
	// A status outside TaskResult.Status fails while decoding, before any
	// lookup.
	e := decodeErr(t, a.expect(500, "POST", "/tasks", `{"workflowInstanceId":"nope","taskId":"nope","status":"SCHEDULED"}`))
	values := "CANCELED, COMPLETED, FAILED_WITH_TERMINAL_ERROR, FAILED, IN_PROGRESS" // 3.32 added CANCELED
	if a.is321() {
		values = "COMPLETED, FAILED_WITH_TERMINAL_ERROR, FAILED, IN_PROGRESS"
	}
	if !strings.HasSuffix(e.Message, `from String "SCHEDULED": not one of the values accepted for Enum class: [`+values+`]`) {
		t.Fatalf("bad status: %q", e.Message)
	}
	upd := func(extra string) string {
		return `{"workflowInstanceId":"` + wf + `","taskId":"` + task.TaskId + `","outputData":{}` + extra + `}`
	}
	if e := decodeErr(t, a.expect(500, "POST", "/tasks", upd(""))); !strings.Contains(e.Message, "getStatus()\" is null") {
		t.Fatalf("missing status: %q", e.Message)
	}
	// The failure did not change the task.
	if got := a.workflow(wf).Tasks[0]; got.Status != model.TaskInProgress {
		t.Fatalf("task %s after a refused update", got.Status)
	}
	r := a.expect(200, "POST", "/tasks", upd(`,"status":"COMPLETED","outputData":{"a":1}`))
	if r.header.Get("Content-Type") != "text/plain;charset=UTF-8" || r.text() != task.TaskId {
		t.Fatalf("update answer %q %q", r.header.Get("Content-Type"), r.body)
	}
	// Once the task is terminal, the update is accepted and ignored, even
	// without a status or with null logs (the checks come later there).
	for _, extra := range []string{`,"status":"FAILED","outputData":{"b":2}`, ``, `,"status":"COMPLETED","logs":null`} {
		if r := a.expect(200, "POST", "/tasks", upd(extra)); r.text() != task.TaskId {
			t.Fatalf("terminal update answer %q", r.body)
		}
	}
	got := a.workflow(wf)
	if got.Tasks[0].Status != model.TaskCompleted || !reflect.DeepEqual(got.Tasks[0].OutputData, map[string]any{"a": 1.0}) || got.Status != model.WorkflowCompleted {
		t.Fatalf("terminal task changed: %+v", got.Tasks[0])
	}

	// "logs": null fails only after the update has been applied (the real
	// server then leaves the workflow to its sweeper); 3.32 accepts it.
	wf = a.start(wfName, nil)
	task = a.pollOne(updT)
	if !a.is321() {
		a.expect(200, "POST", "/tasks", upd(`,"status":"COMPLETED","outputData":{"n":1},"logs":null`))
	} else if e := decodeErr(t, a.expect(500, "POST", "/tasks", upd(`,"status":"COMPLETED","outputData":{"n":1},"logs":null`))); !strings.Contains(e.Message, "getLogs()\" is null") {
		t.Fatalf("null logs: %q", e.Message)
	}
	if got := a.task(task.TaskId); got.Status != model.TaskCompleted || got.OutputData["n"] != 1.0 || got.EndTime == 0 {
		t.Fatalf("task after an update with null logs: %+v", got)
	}
}

func TestOSSReasonTruncatedTo500Chars(t *testing.T) {
	a := newAPI(t)
	longReason := a.name("long_reason")
	a.registerTasks(model.TaskDef{Name: longReason, RetryCount: 0, ResponseTimeoutSeconds: 60})
	wf := a.start(a.oneTask(longReason), nil)
	task := a.pollOne(longReason)
	reason := strings.Repeat("é", 499) + "xyz" // 502 characters, 1001 bytes
	a.update(task, model.FailedTask, nil, reason)
	got := a.workflow(wf)
	want := strings.Repeat("é", 499) + "x"
	if got.Tasks[0].ReasonForIncompletion != want {
		t.Fatalf("task reason has %d chars, want the first 500", len([]rune(got.Tasks[0].ReasonForIncompletion)))
	}
	if wantWF := "Task " + task.TaskId + " failed with status: FAILED and reason: '" + want + "'"; got.ReasonForIncompletion != wantWF {
		t.Fatalf("workflow reason %q", got.ReasonForIncompletion)
	}
}

func TestOSSUpdateByRefStatusErrors(t *testing.T) {
	a := newAPI(t)
	wf := a.start(a.oneTask(a.name("ref_t")), nil)
	e := decodeErr(t, a.expect(500, "POST", "/tasks/"+wf+"/ref0/SCHEDULED", `{}`))
	if !strings.HasPrefix(e.Message, "Method parameter 'status': Failed to convert value of type 'java.lang.String' to required type") ||
		!strings.HasSuffix(e.Message, "for value [SCHEDULED]") {
		t.Fatalf("bad status in path: %q", e.Message)
	}
	if e := decodeErr(t, a.expect(500, "POST", "/tasks/"+wf+"/ref0/COMPLETED", "")); !strings.HasPrefix(e.Message, "Required request body is missing") {
		t.Fatalf("no body: %q", e.Message)
	}
	expectEmpty(t, a.expect(200, "POST", "/tasks/"+wf+"/nope/COMPLETED", `{}`))
	expectEmpty(t, a.expect(200, "POST", "/tasks/nope/ref0/COMPLETED", `{}`))
	expectError(t, a, 404, "POST", "/tasks/"+wf+"/nope/COMPLETED/sync", `{}`, "Found no running task nope of workflow "+wf+" to update")
}

func TestOSSTerminateAndRemoveAnswers(t *testing.T) {
	a := newAPI(t)
	termT := a.name("term_t")
	wt := a.oneTask(termT)
	wf := a.start(wt, nil)
	expectEmpty(t, a.expect(200, "DELETE", "/workflow/"+wf+"?reason=bye%20now&triggerFailureWorkflow=false", nil))
	got := a.workflow(wf)
	if got.Status != model.WorkflowTerminated || got.ReasonForIncompletion != "bye now" || got.Tasks[0].Status != model.TaskCanceled {
		t.Fatalf("terminated workflow %+v", got)
	}
	var raw map[string]any
	a.expect(200, "GET", "/workflow/"+wf, nil).json(t, &raw)
	if !reflect.DeepEqual(raw["output"], map[string]any{}) || raw["endTime"] == 0.0 {
		t.Fatalf("terminated workflow: output %v endTime %v, want {} and set", raw["output"], raw["endTime"])
	}
	// Terminating it again: 3.21 takes the new reason, 3.32 changes nothing.
	expectEmpty(t, a.expect(200, "DELETE", "/workflow/"+wf+"?reason=again", nil))
	wantReason := "bye now"
	if a.is321() {
		wantReason = "again"
	}
	if got := a.workflow(wf); got.ReasonForIncompletion != wantReason {
		t.Fatalf("reason %q after a second terminate, want %q", got.ReasonForIncompletion, wantReason)
	}
	a.expect(204, "GET", "/tasks/poll/"+termT, nil)
	expectEmpty(t, a.expect(200, "DELETE", "/workflow/"+wf+"/remove", nil))
	expectError(t, a, 404, "DELETE", "/workflow/"+wf+"/remove", nil, "No such workflow found by id: "+wf)
	expectError(t, a, 404, "DELETE", "/workflow/nope", nil, "No such workflow found by id: nope")

	done := a.start(wt, nil)
	a.update(a.pollOne(termT), model.CompletedTask, nil, "")
	expectError(t, a, 409, "DELETE", "/workflow/"+done, nil, "Cannot terminate a COMPLETED workflow.")

	// Without a reason the field stays absent.
	wf = a.start(wt, nil)
	a.expect(200, "DELETE", "/workflow/"+wf, nil)
	raw = nil
	a.expect(200, "GET", "/workflow/"+wf, nil).json(t, &raw)
	if _, ok := raw["reasonForIncompletion"]; ok {
		t.Fatalf("reasonForIncompletion present: %v", raw["reasonForIncompletion"])
	}
}

func TestOSSLogsAndUnknownTask(t *testing.T) {
	a := newAPI(t)
	expectUnknownTask(t, a, "nope")
	expectEmpty(t, a.expect(200, "POST", "/tasks/nope/log", "some text"))
	never := a.name("never-logged")
	if !a.is321() {
		a.expect(204, "GET", "/tasks/"+never+"/log", nil) // 3.32: no logs is a 204
		return
	}
	r := a.expect(200, "GET", "/tasks/"+never+"/log", nil)
	if r.text() != "[]" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("logs of an unknown task: %q %q", r.header.Get("Content-Type"), r.body)
	}
}

func TestOSSExpressionsKeepTypesAndNulls(t *testing.T) {
	a := newAPI(t)
	exprT := a.name("expr_t")
	def := simpleWorkflow(a.name("we"), exprT)
	def.Tasks[0].InputParameters = map[string]any{"x": "${workflow.input.x}", "s": "pre-${workflow.input.x}-post",
		"m": "${workflow.input.missing}", "obj": "${workflow.input.obj}", "lit": 5, "esc": "$${workflow.input.x}"}
	a.registerWorkflow(def)
	a.start(def.Name, map[string]any{"x": 7, "obj": map[string]any{"k": []any{1, 2}}})
	r := a.expect(200, "GET", "/tasks/poll/"+exprT, nil)
	var raw struct {
		InputData json.RawMessage `json:"inputData"`
	}
	r.json(t, &raw)
	// Compared value by value: the order of the keys is the server's own.
	var got map[string]json.RawMessage
	if err := json.Unmarshal(raw.InputData, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"esc": `"${workflow.input.x}"`, "lit": `5`, "m": `null`, "obj": `{"k":[1,2]}`, "s": `"pre-7-post"`, "x": `7`}
	if len(got) != len(want) {
		t.Fatalf("inputData %s, want the keys of %v", raw.InputData, want)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Fatalf("inputData %s: %s is %s, want %s", raw.InputData, k, got[k], v)
		}
	}
}

func TestOSSSearchAnswersEmpty(t *testing.T) {
	a := newAPI(t)
	paths := []string{"/workflow/search", "/tasks/search"}
	if a.is321() {
		paths = append(paths, "/workflow/search?query=x")
	} else if os.Getenv("CONDUCTOR_SERVER_STORE") != "redis" {
		// 3.32's SQLite index parses the query (the dev server too).
		expectError(t, a, 400, "GET", "/workflow/search?query=x", nil, "Incorrectly formatted query string: x")
	}
	if !a.is321() && a.remote && os.Getenv("CONDUCTOR_SERVER_STORE") != "redis" {
		// 3.32's SQLite index finds what earlier tests left; only the
		// shape of the answer is the dev server's.
		for _, p := range paths {
			var res struct {
				TotalHits *int             `json:"totalHits"`
				Results   []map[string]any `json:"results"`
			}
			r := a.expect(200, "GET", p, nil)
			r.json(t, &res)
			if res.TotalHits == nil || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%s: %q %.200s", p, r.header.Get("Content-Type"), r.body)
			}
		}
		return
	}
	for _, p := range paths {
		r := a.expect(200, "GET", p, nil)
		if r.text() != `{"totalHits":0,"results":[]}` || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %q %q", p, r.header.Get("Content-Type"), r.body)
		}
	}
}

func TestOSSRequeuePendingTasks(t *testing.T) {
	a := newAPI(t)
	rqT := a.name("rq_t")
	a.start(a.oneTask(rqT), nil)
	first := a.pollOne(rqT) // IN_PROGRESS, out of the queue
	r := a.expect(200, "POST", "/tasks/queue/requeue/"+rqT, "")
	if r.text() != "1" || r.header.Get("Content-Type") != "text/plain;charset=UTF-8" {
		t.Fatalf("requeue answer %q %q", r.header.Get("Content-Type"), r.body)
	}
	if got := a.expect(200, "GET", "/tasks/queue/size?taskType="+rqT, nil).text(); got != "1" {
		t.Fatalf("queue size %s after requeue, want 1", got)
	}
	again := a.pollOne(rqT)
	if again.TaskId != first.TaskId || again.PollCount != 2 || again.Status != model.TaskInProgress {
		t.Fatalf("requeued task handed out as %+v", again)
	}
	if got := a.expect(200, "POST", "/tasks/queue/requeue/"+a.name("other_t"), "").text(); got != "0" {
		t.Fatalf("requeue of an unused type: %s", got)
	}
}

// hasKeys fails unless every key is present in obj (zero values included).
func hasKeys(t *testing.T, what string, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Fatalf("%s lacks %q: %v", what, k, obj)
		}
	}
}

// Fields the real server always sends, with zero values, empty lists and
// empty maps; a client in another language may rely on them.
func TestOSSFieldPresence(t *testing.T) {
	a := newAPI(t)
	fpT := a.name("fp_t")
	a.registerTasks(model.TaskDef{Name: fpT, ResponseTimeoutSeconds: 10})
	wfFP := a.oneTask(fpT)
	taskDefKeys := []string{"createTime", "updateTime", "createdBy", "name", "retryCount", "timeoutSeconds", "inputKeys",
		"outputKeys", "timeoutPolicy", "retryLogic", "retryDelaySeconds", "responseTimeoutSeconds", "inputTemplate",
		"rateLimitPerFrequency", "rateLimitFrequencyInSeconds", "backoffScaleFactor", "totalTimeoutSeconds", "enforceSchema"}
	var td map[string]any
	a.expect(200, "GET", "/metadata/taskdefs/"+fpT, nil).json(t, &td)
	hasKeys(t, "task definition", td, taskDefKeys...)
	if _, ok := td["updatedBy"]; ok || td["updateTime"] != 0.0 {
		t.Fatalf("never updated definition: updatedBy %v updateTime %v", td["updatedBy"], td["updateTime"])
	}
	a.expect(200, "PUT", "/metadata/taskdefs", model.TaskDef{Name: fpT, OwnerEmail: owner, ResponseTimeoutSeconds: 10})
	a.expect(200, "GET", "/metadata/taskdefs/"+fpT, nil).json(t, &td)
	if td["updatedBy"] != "" || td["updateTime"] == 0.0 {
		t.Fatalf("updated definition: updatedBy %v updateTime %v", td["updatedBy"], td["updateTime"])
	}

	wfDefKeys := []string{"createTime", "updateTime", "name", "version", "tasks", "inputParameters", "outputParameters",
		"schemaVersion", "restartable", "workflowStatusListenerEnabled", "timeoutPolicy", "timeoutSeconds", "variables",
		"inputTemplate", "enforceSchema", "metadata"}
	var wd map[string]any
	a.expect(200, "GET", "/metadata/workflow/"+wfFP, nil).json(t, &wd)
	hasKeys(t, "workflow definition", wd, wfDefKeys...)
	hasKeys(t, "workflow task", wd["tasks"].([]any)[0].(map[string]any), "name", "taskReferenceName", "inputParameters", "type", "startDelay", "optional", "asyncComplete")

	id := a.start(wfFP, nil)
	taskKeys := []string{"taskType", "status", "inputData", "referenceTaskName", "retryCount", "seq", "pollCount", "taskDefName",
		"scheduledTime", "startTime", "endTime", "updateTime", "startDelayInSeconds", "retried", "executed", "callbackFromWorker",
		"responseTimeoutSeconds", "workflowInstanceId", "workflowType", "taskId", "callbackAfterSeconds", "outputData",
		"workflowTask", "rateLimitPerFrequency", "rateLimitFrequencyInSeconds", "workflowPriority", "iteration",
		"subworkflowChanged", "firstStartTime", "taskDefinition", "queueWaitTime", "loopOverTask"}
	workflowKeys := []string{"ownerApp", "createTime", "updateTime", "status", "endTime", "workflowId", "tasks", "input",
		"output", "taskToDomain", "failedReferenceTaskNames", "workflowDefinition", "priority", "variables",
		"lastRetriedTime", "failedTaskNames", "history", "rateLimited", "workflowVersion", "workflowName", "startTime"}
	var wf map[string]any
	a.expect(200, "GET", "/workflow/"+id, nil).json(t, &wf)
	hasKeys(t, "workflow", wf, workflowKeys...)
	hasKeys(t, "workflow definition in a workflow", wf["workflowDefinition"].(map[string]any), wfDefKeys...)
	scheduled := wf["tasks"].([]any)[0].(map[string]any)
	hasKeys(t, "scheduled task", scheduled, taskKeys...)
	hasKeys(t, "task definition in a task", scheduled["taskDefinition"].(map[string]any), taskDefKeys...)
	if scheduled["updateTime"] != 0.0 || scheduled["startTime"] != 0.0 || !reflect.DeepEqual(scheduled["outputData"], map[string]any{}) {
		t.Fatalf("scheduled task: updateTime %v startTime %v outputData %v", scheduled["updateTime"], scheduled["startTime"], scheduled["outputData"])
	}
	if _, ok := scheduled["workerId"]; ok {
		t.Fatal("scheduled task has a workerId")
	}
	a.expect(200, "GET", "/workflow/"+id+"?includeTasks=false", nil).json(t, &wf)
	if tasks, ok := wf["tasks"].([]any); !ok || len(tasks) != 0 {
		t.Fatalf("includeTasks=false: tasks %v, want []", wf["tasks"])
	}

	var polled map[string]any
	a.expect(200, "GET", "/tasks/poll/"+fpT+"?workerid=w", nil).json(t, &polled)
	hasKeys(t, "polled task", polled, append(taskKeys, "workerId")...)
	var got map[string]any
	a.expect(200, "GET", "/tasks/"+polled["taskId"].(string), nil).json(t, &got)
	hasKeys(t, "task", got, taskKeys...)

	// An update without workerId clears it.
	a.expect(200, "POST", "/tasks", map[string]any{"workflowInstanceId": id, "taskId": polled["taskId"], "status": "IN_PROGRESS", "outputData": map[string]any{}})
	if got := rawTask(t, a, polled["taskId"].(string)); got["workerId"] != nil {
		t.Fatalf("workerId %v after an update without one", got["workerId"])
	}
}

func TestOSSPollDataDomains(t *testing.T) {
	a := newAPI(t)
	pdT := a.name("pd_t")
	a.expect(200, "GET", "/tasks/queue/polldata?taskType="+pdT, nil)
	if got := a.expect(200, "GET", "/tasks/queue/polldata?taskType="+pdT, nil).text(); got != "[]" {
		t.Fatalf("never polled: %s", got)
	}
	a.pollBatch(pdT, "count=1&timeout=0")
	a.pollBatch(pdT, "count=1&timeout=0&domain=")
	a.pollBatch(pdT, "count=1&timeout=0&domain=blue&workerid=bw")
	var entries []map[string]any
	a.expect(200, "GET", "/tasks/queue/polldata?taskType="+pdT, nil).json(t, &entries)
	if len(entries) != 3 {
		t.Fatalf("poll data %v, want 3 entries (no domain, empty domain, blue)", entries)
	}
	seen := map[string]map[string]any{}
	for _, e := range entries {
		d, ok := e["domain"].(string)
		if !ok {
			d = "<absent>"
		}
		seen[d] = e
	}
	if seen["<absent>"] == nil || seen[""] == nil || seen["blue"]["workerId"] != "bw" {
		t.Fatalf("poll data %v", entries)
	}
	if _, ok := seen[""]["workerId"]; ok {
		t.Fatalf("workerId present for a poll without one: %v", seen[""])
	}
	// 3.21 (and 3.32 with Redis) polls the queue ":taskType" for domain=,
	// 3.32 with SQLite the default one.
	var all map[string]int
	a.expect(200, "GET", "/tasks/queue/all", nil).json(t, &all)
	if _, ok := all[":"+pdT]; ok == a.sqlite() {
		t.Fatalf("queue :%s (polled with domain=) listed: %v, want %v (Conductor %s)", pdT, ok, !a.sqlite(), a.version())
	}
	expectError(t, a, 500, "GET", "/tasks/queue/polldata", nil, "Required request parameter 'taskType' for method parameter type String is not present")
}

func TestOSSUpdateV2Answers(t *testing.T) {
	a := newAPI(t)
	v2bT := a.name("v2b_t")
	wv2 := a.oneTask(v2bT)
	startIn := func(domain string) {
		req := model.StartWorkflowRequest{Name: wv2, Input: map[string]any{}}
		if domain != "" {
			req.TaskToDomain = map[string]string{v2bT: domain}
		}
		a.expect(200, "POST", "/workflow", req)
	}
	startIn("dd")
	startIn("dd")
	startIn("")
	first := a.pollBatch(v2bT, "count=1&timeout=0&domain=dd&workerid=w")[0]
	// The follow-up poll uses the updated task's domain. 3.32.3 (SQLite)
	// was seen to answer 204 here although a task of that domain was
	// queued; the SDK then polls as usual, so a 204 is allowed there if a
	// plain poll still finds the task.
	var next model.Task
	r := a.do("POST", "/tasks/update-v2", model.TaskResult{WorkflowInstanceId: first.WorkflowInstanceId, TaskId: first.TaskId, Status: model.CompletedTask, WorkerId: "v2w"})
	if r.status == 204 && a.remote && !a.is321() {
		t.Logf("Conductor %s answered update-v2 with 204 although a task of domain dd was queued (a known difference)", a.version())
		got := a.pollBatch(v2bT, "count=1&timeout=0&domain=dd&workerid=v2w")
		if len(got) != 1 {
			t.Fatalf("after the 204 a poll found %d tasks of domain dd, want the queued one", len(got))
		}
		next = got[0]
	} else {
		if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("update-v2: status %d (%q), want 200 with the next task of domain dd; body %s", r.status, r.header.Get("Content-Type"), r.body)
		}
		r.json(t, &next)
	}
	if next.Domain != "dd" || next.Status != model.TaskInProgress || next.PollCount != 1 || next.WorkerId != "v2w" {
		t.Fatalf("next task %+v", next)
	}
	// IN_PROGRESS: 3.32 looks for a next task only after a terminal update.
	if !a.is321() {
		a.expect(204, "POST", "/tasks/update-v2", model.TaskResult{WorkflowInstanceId: next.WorkflowInstanceId, TaskId: next.TaskId, Status: model.InProgressTask})
		expectError(t, a, 404, "POST", "/tasks/update-v2", model.TaskResult{WorkflowInstanceId: first.WorkflowInstanceId, TaskId: "nope", Status: model.CompletedTask}, "No such task found by id: nope")
		return
	}
	// IN_PROGRESS without callback: the same task comes straight back.
	var same model.Task
	a.expect(200, "POST", "/tasks/update-v2", model.TaskResult{WorkflowInstanceId: next.WorkflowInstanceId, TaskId: next.TaskId, Status: model.InProgressTask}).json(t, &same)
	if same.TaskId != next.TaskId || same.PollCount != 2 {
		t.Fatalf("IN_PROGRESS answer %+v, want the same task polled again", same)
	}
	if _, ok := rawTask(t, a, same.TaskId)["workerId"]; ok {
		t.Fatal("handed out with a workerId although the result had none")
	}
	// With a callback it is not due yet: 204.
	r = a.expect(204, "POST", "/tasks/update-v2", model.TaskResult{WorkflowInstanceId: same.WorkflowInstanceId, TaskId: same.TaskId, Status: model.InProgressTask, CallbackAfterSeconds: 5})
	if len(r.body) != 0 {
		t.Fatalf("204 with body %q", r.body)
	}
	// An update of a terminal task is ignored (then the empty poll).
	a.expect(204, "POST", "/tasks/update-v2", model.TaskResult{WorkflowInstanceId: first.WorkflowInstanceId, TaskId: first.TaskId, Status: model.FailedTask})
	if got := a.task(first.TaskId); got.Status != model.TaskCompleted {
		t.Fatalf("terminal task changed to %s", got.Status)
	}
	expectError(t, a, 404, "POST", "/tasks/update-v2", model.TaskResult{WorkflowInstanceId: first.WorkflowInstanceId, TaskId: "nope", Status: model.CompletedTask}, "No such task found by id: nope")
}

func rawTask(t *testing.T, a *api, id string) map[string]any {
	t.Helper()
	var m map[string]any
	a.expect(200, "GET", "/tasks/"+id, nil).json(t, &m)
	return m
}

func TestOSSCallbackAndExtendLease(t *testing.T) {
	a := newAPI(t)
	cbT := a.name("cb_t")
	wf := a.start(a.oneTask(cbT), nil)
	task := a.pollOne(cbT)
	a.expect(200, "POST", "/tasks", model.TaskResult{WorkflowInstanceId: wf, TaskId: task.TaskId, Status: model.InProgressTask,
		CallbackAfterSeconds: 3, OutputData: map[string]any{"p": 1}, WorkerId: "w1"})
	got := a.task(task.TaskId)
	if got.Status != model.TaskScheduled || got.CallbackAfterSeconds != 3 || got.PollCount != 1 || got.StartTime != task.StartTime || got.OutputData["p"] != 1.0 {
		t.Fatalf("after IN_PROGRESS with callback: %+v", got)
	}
	if n := a.queueSize(cbT); n != 1 {
		t.Fatalf("queue size %d, want 1", n)
	}
	again := a.pollDue(cbT, 3*time.Second)
	if again.PollCount != 2 || again.CallbackAfterSeconds != 0 || again.OutputData["p"] != 1.0 || again.StartTime != task.StartTime {
		t.Fatalf("re-polled after the callback: %+v", again)
	}
	// extendLease: 200 with the id; the workflow id is not checked, an
	// unknown task is a 404.
	r := a.expect(200, "POST", "/tasks", model.TaskResult{WorkflowInstanceId: "nope", TaskId: again.TaskId, Status: model.CompletedTask, ExtendLease: true, OutputData: map[string]any{"ignored": 1}})
	if r.text() != again.TaskId {
		t.Fatalf("extendLease answer %q", r.body)
	}
	if got := a.task(again.TaskId); got.Status != model.TaskInProgress || got.OutputData["ignored"] != nil {
		t.Fatalf("after extendLease: %+v", got)
	}
	expectError(t, a, 404, "POST", "/tasks", model.TaskResult{WorkflowInstanceId: wf, TaskId: "nope", Status: model.CompletedTask, ExtendLease: true}, "No such task found by id: nope")
}

func TestOSSTimeOutWFReasonIsTheTimeoutText(t *testing.T) {
	t.Parallel() // a remote server's sweeper takes up to 30 s
	a := newAPI(t)
	towfT := a.name("towf_t")
	a.registerTasks(model.TaskDef{Name: towfT, RetryCount: 3, TimeoutSeconds: 1, ResponseTimeoutSeconds: 1, TimeoutPolicy: model.TimeoutPolicyTimeOutWF})
	id := a.start(a.oneTask(towfT), nil)
	a.pollOne(towfT)
	a.advance(2 * time.Second)
	wf := waitTerminal(t, a, id)
	task := wf.Tasks[0]
	if wf.Status != model.WorkflowTimedOut || task.Status != model.TaskTimedOut || !strings.HasPrefix(task.ReasonForIncompletion, "Task timed out after ") {
		t.Fatalf("workflow %s, task %s %q", wf.Status, task.Status, task.ReasonForIncompletion)
	}
	if wf.ReasonForIncompletion != task.ReasonForIncompletion {
		t.Fatalf("workflow reason %q, want the task's timeout text %q", wf.ReasonForIncompletion, task.ReasonForIncompletion)
	}
}

func TestOSSTerminalErrorFailsWorkflowAtOnce(t *testing.T) {
	a := newAPI(t)
	fatalT := a.name("fatal_t")
	a.registerTasks(model.TaskDef{Name: fatalT, RetryCount: 3, ResponseTimeoutSeconds: 60})
	id := a.start(a.oneTask(fatalT), nil)
	task := a.pollOne(fatalT)
	a.update(task, model.FailedWithTerminalErrorTask, map[string]any{"o": 1}, "fatal")
	wf := a.workflow(id)
	want := "Task " + task.TaskId + " failed with status: FAILED and reason: 'fatal'"
	if wf.Status != model.WorkflowFailed || wf.ReasonForIncompletion != want || len(wf.Tasks) != 1 || wf.Tasks[0].Retried ||
		wf.Tasks[0].Status != model.TaskFailedWithTerminalError || wf.Output["o"] != 1.0 || wf.EndTime == 0 {
		t.Fatalf("workflow %s %q, output %v, tasks %+v", wf.Status, wf.ReasonForIncompletion, wf.Output, wf.Tasks)
	}
	if !reflect.DeepEqual(wf.FailedReferenceTaskNames, []string{"ref0"}) || !reflect.DeepEqual(wf.FailedTaskNames, []string{fatalT}) {
		t.Fatalf("failed names %v %v", wf.FailedReferenceTaskNames, wf.FailedTaskNames)
	}
	if n := a.queueSize(fatalT); n != 0 {
		t.Fatalf("queue size %d", n)
	}
}

func TestOSSUpdateByRefOnScheduledTask(t *testing.T) {
	a := newAPI(t)
	def := simpleWorkflow(a.name("wref"), a.name("refa_t"), a.name("refb_t"))
	def.Tasks[1].InputParameters = map[string]any{"fromA": "${ref0.output.v}"}
	a.registerWorkflow(def)
	id := a.start(def.Name, nil)
	taskID := a.workflow(id).Tasks[0].TaskId
	r := a.expect(200, "POST", "/tasks/"+id+"/ref0/IN_PROGRESS?workerid=refw", map[string]any{"k": 1})
	if r.text() != taskID || r.header.Get("Content-Type") != "text/plain;charset=UTF-8" {
		t.Fatalf("answer %q %q", r.header.Get("Content-Type"), r.body)
	}
	got := a.task(taskID)
	if got.Status != model.TaskScheduled || got.PollCount != 0 || got.WorkerId != "refw" || got.OutputData["k"] != 1.0 {
		t.Fatalf("after IN_PROGRESS by ref: %+v", got)
	}
	a.expect(200, "POST", "/tasks/"+id+"/ref0/COMPLETED", map[string]any{"v": "A"})
	got = a.task(taskID)
	if got.Status != model.TaskCompleted || got.WorkerId != "refw" || !reflect.DeepEqual(got.OutputData, map[string]any{"k": 1.0, "v": "A"}) {
		t.Fatalf("after COMPLETED by ref: %+v", got)
	}
	next := a.workflow(id).Tasks[1]
	if next.InputData["fromA"] != "A" {
		t.Fatalf("next task input %v", next.InputData)
	}
	expectEmpty(t, a.expect(200, "POST", "/tasks/"+id+"/ref0/COMPLETED", map[string]any{}))
	var wf map[string]any
	r = a.expect(200, "POST", "/tasks/"+id+"/ref1/COMPLETED/sync", map[string]any{"v": "B"})
	r.json(t, &wf)
	if r.header.Get("Content-Type") != "application/json" || wf["status"] != "COMPLETED" || len(wf["tasks"].([]any)) != 2 {
		t.Fatalf("sync answer %v", wf)
	}
}

func TestOSSCanceledTaskUpdateIgnoredAndRemoveClearsQueue(t *testing.T) {
	a := newAPI(t)
	canT := a.name("can_t")
	wcan := a.oneTask(canT)
	id := a.start(wcan, nil)
	task := a.pollOne(canT)
	a.expect(200, "DELETE", "/workflow/"+id, nil)
	if r := a.update(task, model.CompletedTask, map[string]any{"late": true}, ""); r.text() != task.TaskId {
		t.Fatalf("late update answer %q", r.body)
	}
	got := a.task(task.TaskId)
	if got.Status != model.TaskCanceled || got.ReasonForIncompletion != "" || got.EndTime == 0 || len(got.OutputData) != 0 {
		t.Fatalf("canceled task after a late update: %+v", got)
	}
	// Removing a RUNNING workflow with archiving (the default) fails: on
	// 3.21 after the workflow is gone (its queued task is never handed
	// out), on 3.32 before anything changed.
	running := a.start(wcan, nil)
	expectError(t, a, 400, "DELETE", "/workflow/"+running+"/remove", nil, "Cannot archive workflow: "+running+" with status: RUNNING")
	if a.is321() {
		expectError(t, a, 404, "GET", "/workflow/"+running, nil, "No such workflow found by id: "+running)
		a.expect(204, "GET", "/tasks/poll/"+canT, nil)
	} else {
		if got := a.workflow(running); got.Status != model.WorkflowRunning {
			t.Fatalf("workflow %s after a refused remove, want RUNNING", got.Status)
		}
		a.expect(200, "DELETE", "/workflow/"+running+"/terminate-remove", nil)
	}
	// Without archiving it just goes, and so does terminate-remove.
	running = a.start(wcan, nil)
	expectEmpty(t, a.expect(200, "DELETE", "/workflow/"+running+"/remove?archiveWorkflow=false", nil))
	expectError(t, a, 404, "GET", "/workflow/"+running, nil, "No such workflow found by id: "+running)
	running = a.start(wcan, nil)
	expectEmpty(t, a.expect(200, "DELETE", "/workflow/"+running+"/terminate-remove?reason=done", nil))
	expectError(t, a, 404, "GET", "/workflow/"+running, nil, "No such workflow found by id: "+running)
	a.expect(204, "GET", "/tasks/poll/"+canT, nil)
	if n := a.queueSize(canT); n != 0 {
		t.Fatalf("queue size %d after removes, want 0", n)
	}
	expectError(t, a, 404, "DELETE", "/workflow/"+running+"/terminate-remove", nil, "No such workflow found by id: "+running)
	expectError(t, a, 500, "DELETE", "/workflow/"+running+"/remove?archiveWorkflow=maybe", nil,
		"Method parameter 'archiveWorkflow': Failed to convert value of type 'java.lang.String' to required type 'boolean'; Invalid boolean value [maybe]")
}

// A bare JSON null is a missing body; null list elements and "tasks": null
// fail as the real server's service and validator do.
func TestOSSNullBodies(t *testing.T) {
	a := newAPI(t)
	wf := a.start(a.oneTask(a.name("nb_t")), nil)
	for _, c := range []struct{ method, path string }{
		{"POST", "/tasks"}, {"POST", "/tasks/update-v2"}, {"POST", "/tasks/" + wf + "/ref0/COMPLETED"},
		{"POST", "/metadata/taskdefs"}, {"PUT", "/metadata/taskdefs"}, {"POST", "/metadata/workflow"},
		{"PUT", "/metadata/workflow"}, {"POST", "/workflow"}, {"POST", "/workflow/" + a.name("nb_wf")},
	} {
		e := decodeErr(t, a.expect(500, c.method, c.path, " null "))
		if !strings.HasPrefix(e.Message, "Required request body is missing") {
			t.Fatalf("%s %s with null: %q", c.method, c.path, e.Message)
		}
	}
	if a.task(a.workflow(wf).Tasks[0].TaskId).Status != model.TaskScheduled {
		t.Fatal("a null update changed the task")
	}

	// A null among task definitions fails after the ones before it are stored.
	before := a.name("before_null")
	expectError(t, a, 500, "POST", "/metadata/taskdefs", `[{"name":"`+before+`","ownerEmail":"a@b.c"},null]`,
		`Cannot invoke "com.netflix.conductor.common.metadata.tasks.TaskDef.setCreatedBy(String)" because "taskDefinition" is null`)
	a.expect(200, "GET", "/metadata/taskdefs/"+before, nil)
	expectInvalid(t, a, "PUT", "/metadata/workflow", `[null]`,
		valErr{Path: "updateWorkflowDef.arg0[0].<list element>", Message: "WorkflowDef cannot be null"})
	nullTasks := `{"name":"` + a.name("nt") + `","ownerEmail":"a@b.c","tasks":null}`
	expectError(t, a, 500, "POST", "/metadata/workflow", nullTasks, "HV000028: Unexpected exception during isValid call.")
	expectError(t, a, 500, "PUT", "/metadata/workflow", "["+nullTasks+"]", "HV000028: Unexpected exception during isValid call.")
}

// Query and path parameters that do not convert get Spring's message;
// booleans take Spring's spellings.
func TestOSSParameterConversion(t *testing.T) {
	a := newAPI(t)
	conv := func(name, javaType, cause string) string {
		return "Method parameter '" + name + "': Failed to convert value of type 'java.lang.String' to required type '" + javaType + "'; " + cause
	}
	wfName := a.oneTask(a.name("pc_t"))
	expectError(t, a, 500, "GET", "/tasks/poll/batch/x?count=abc", nil, conv("count", "int", `For input string: "abc"`))
	expectError(t, a, 500, "GET", "/tasks/poll/batch/x?timeout=1.5", nil, conv("timeout", "int", `For input string: "1.5"`))
	expectError(t, a, 500, "POST", "/workflow/"+wfName+"?version=abc", `{}`, conv("version", "java.lang.Integer", `For input string: "abc"`))
	expectError(t, a, 500, "POST", "/workflow/"+wfName+"?priority=abc", `{}`, conv("priority", "int", `For input string: "abc"`))
	expectError(t, a, 500, "GET", "/metadata/workflow/"+wfName+"?version=abc", nil, conv("version", "java.lang.Integer", `For input string: "abc"`))
	expectError(t, a, 500, "DELETE", "/metadata/workflow/"+wfName+"/abc", nil, conv("version", "java.lang.Integer", `For input string: "abc"`))
	id := a.start(wfName, nil)
	expectError(t, a, 500, "GET", "/workflow/"+id+"?includeTasks=maybe", nil, conv("includeTasks", "boolean", "Invalid boolean value [maybe]"))
	for v, want := range map[string]int{"yes": 1, "ON": 1, "0": 0, "no": 0, "": 1} {
		if got := a.expect(200, "GET", "/workflow/"+id+"?includeTasks="+v, nil); strings.Count(got.text(), `"taskId"`) != want {
			t.Fatalf("includeTasks=%s: %s", v, got.body)
		}
	}
	// terminate-remove cannot terminate a COMPLETED workflow, so it stays.
	a.update(a.pollOne(a.name("pc_t")), model.CompletedTask, nil, "")
	expectError(t, a, 409, "DELETE", "/workflow/"+id+"/terminate-remove", nil, "Cannot terminate a COMPLETED workflow.")
	a.expect(200, "GET", "/workflow/"+id, nil)
}
