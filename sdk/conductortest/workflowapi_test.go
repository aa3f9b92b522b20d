package conductortest_test

import (
	"strings"
	"testing"

	"github.com/baton-go/baton/sdk/model"
	builder "github.com/baton-go/baton/sdk/workflow"
)

func TestStartWorkflow(t *testing.T) {
	a := newAPI(t)
	sw := a.name("sw")
	a.registerWorkflow(simpleWorkflow(sw, a.name("sw_task")))
	r := a.expect(200, "POST", "/workflow/"+sw+"?correlationId=c1&priority=5", map[string]any{"k": "v"})
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") || len(r.text()) != 36 {
		t.Fatalf("start by name answered %q (%s)", r.text(), r.header.Get("Content-Type"))
	}
	wf := a.workflow(r.text())
	if wf.CorrelationId != "c1" || wf.Priority != 5 || wf.Input["k"] != "v" || wf.Status != model.WorkflowRunning || wf.WorkflowVersion != 1 {
		t.Fatalf("workflow %+v", wf)
	}
	if wf.Tasks[0].WorkflowPriority != 5 || wf.Tasks[0].CorrelationId != "c1" {
		t.Fatalf("task %+v", wf.Tasks[0])
	}
	nope := a.name("nope")
	cases := []struct {
		name, path string
		body       any
		status     int
		message    string
	}{
		{"by name unknown", "/workflow/" + nope, map[string]any{}, 404, "No such workflow found by name: " + nope + ", version: null"},
		{"by name null body", "/workflow/" + sw, "null", 500, ""}, // a JSON null is a missing body
		{"by name no body", "/workflow/" + sw, "", 500, ""},
		{"by body unknown", "/workflow", map[string]any{"name": nope, "version": 3}, 404, "No such workflow defined. name=" + nope + ", version=3"},
		{"by body null input", "/workflow", map[string]any{"name": sw, "input": nil}, 400, "NULL input passed when starting workflow"},
		{"by body priority", "/workflow", map[string]any{"name": sw, "priority": 100}, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.on(t).expect(c.status, "POST", c.path, c.body)
			if c.status == 500 {
				if e := r.errBody(t); !strings.HasPrefix(e.Message, "Required request body is missing") {
					t.Fatalf("message %q", e.Message)
				}
			}
			if c.message != "" {
				if e := r.errBody(t); e.Message != c.message {
					t.Fatalf("message %q, want %q", e.Message, c.message)
				}
			}
		})
	}
	// Inline definition.
	inlineType := a.name("inline_task")
	inline := simpleWorkflow(a.name("inline"), inlineType)
	id := a.expect(200, "POST", "/workflow", model.StartWorkflowRequest{Name: inline.Name, Input: map[string]any{}, WorkflowDef: &inline}).text()
	if a.workflow(id).Tasks[0].TaskType != inlineType {
		t.Fatal("inline definition not used")
	}
}

// The dev server runs SIMPLE tasks only and says so when a workflow with
// another task type starts.
func TestOtherTaskTypesRefused(t *testing.T) {
	a := newAPI(t)
	a.needLocal("refusing task types other than SIMPLE")
	fork := simpleWorkflow(a.name("fork"), "x")
	fork.Tasks[0].Type = "FORK_JOIN"
	a.registerWorkflow(fork)
	e := a.expect(400, "POST", "/workflow/"+fork.Name, map[string]any{}).errBody(t)
	if !strings.Contains(e.Message, "FORK_JOIN") {
		t.Fatalf("message %q", e.Message)
	}
}

func TestGetTerminateRemoveWorkflow(t *testing.T) {
	a := newAPI(t)
	wfName, typeA, typeB := a.name("two"), a.name("gt_a"), a.name("gt_b")
	a.registerWorkflow(simpleWorkflow(wfName, typeA, typeB))
	id := a.start(wfName, nil)
	var noTasks map[string]any
	a.expect(200, "GET", "/workflow/"+id+"?includeTasks=false", nil).json(t, &noTasks)
	if tasks, ok := noTasks["tasks"].([]any); !ok || len(tasks) != 0 {
		t.Fatalf("tasks = %#v, want []", noTasks["tasks"])
	}
	if e := a.expect(404, "GET", "/workflow/nope", nil).errBody(t); e.Message != "No such workflow found by id: nope" || e.Instance == "" {
		t.Fatalf("message %q", e.Message)
	}
	a.expect(200, "DELETE", "/workflow/"+id+"?reason=enough", nil)
	wf := a.workflow(id)
	if wf.Status != model.WorkflowTerminated || wf.ReasonForIncompletion != "enough" || wf.Tasks[0].Status != model.TaskCanceled {
		t.Fatalf("terminated workflow %+v", wf)
	}
	if n := a.queueSize(typeA); n != 0 {
		t.Fatalf("canceled task still queued (queue size %d)", n)
	}
	if got := a.pollBatch(typeA, "count=1&timeout=0"); len(got) != 0 {
		t.Fatal("canceled task handed out")
	}

	done := a.start(wfName, nil)
	a.update(a.pollOne(typeA), model.CompletedTask, nil, "")
	a.update(a.pollOne(typeB), model.CompletedTask, nil, "")
	if e := a.expect(409, "DELETE", "/workflow/"+done, nil).errBody(t); e.Message != "Cannot terminate a COMPLETED workflow." {
		t.Fatalf("message %q", e.Message)
	}
	a.expect(200, "DELETE", "/workflow/"+done+"/remove", nil)
	a.expect(404, "GET", "/workflow/"+done, nil)
	a.expect(404, "DELETE", "/workflow/"+done+"/remove", nil)
}

func TestHealthAndUnknownPaths(t *testing.T) {
	a := newAPI(t)
	res, err := a.client.Get(a.root + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Healthy bool }
	_ = jsonDecode(res.Body, &h)
	res.Body.Close()
	if res.StatusCode != 200 || !h.Healthy {
		t.Fatalf("/health: %d %+v", res.StatusCode, h)
	}
	if e := a.expect(404, "GET", "/no/such/path", nil).errBody(t); e.Status != 404 {
		t.Fatalf("body %+v", e)
	}
	a.expect(a.methodStatus(), "PUT", "/tasks/poll/batch/x", nil)
	// OSS has no token endpoint.
	a.expect(404, "POST", "/token", map[string]string{"keyId": "a", "keySecret": "b"})
}

// A workflow made with sdk/workflow that needs a system task type is
// refused at start, by name and inline, with a message that names the task,
// its type and where such workflows run (make test-conductor); registering
// it succeeds, as on a real server.
func TestBuilderWorkflowRefusedWithPointerToRealServer(t *testing.T) {
	a := newAPI(t)
	a.needLocal("refusing task types other than SIMPLE")
	def := builder.New(a.name("built")).Version(1).OwnerEmail("test@example.com").Add(
		builder.Simple(a.name("first"), "first"),
		builder.Switch("route", "${workflow.input.kind}").Case("a", builder.Simple(a.name("second"), "second")),
	).MustDef()
	a.registerWorkflow(*def)
	for _, start := range []struct {
		path string
		body any
	}{
		{"/workflow/" + def.Name, map[string]any{}},
		{"/workflow", model.StartWorkflowRequest{Name: def.Name, Input: map[string]any{}, WorkflowDef: def}},
	} {
		e := a.expect(400, "POST", start.path, start.body).errBody(t)
		for _, want := range []string{"route", "SWITCH", def.Name, "SIMPLE tasks only", "make test-conductor"} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("POST %s: message %q does not say %q", start.path, e.Message, want)
			}
		}
	}
}
