package conductortest_test

import (
	"strings"
	"testing"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

func TestTaskDefsDefaultsAndUpsert(t *testing.T) {
	a := newAPI(t)
	a.expect(200, "POST", "/metadata/taskdefs", `[{"name":"td1","ownerEmail":"a@b.c"}]`)
	var def model.TaskDef
	a.expect(200, "GET", "/metadata/taskdefs/td1", nil).json(t, &def)
	if def.RetryCount != 3 || def.RetryDelaySeconds != 60 || def.ResponseTimeoutSeconds != 3600 || def.TimeoutPolicy != "TIME_OUT_WF" ||
		def.RetryLogic != "FIXED" || def.BackoffScaleFactor != 1 || def.RateLimitFrequencyInSeconds != 1 || def.CreateTime == 0 {
		t.Fatalf("defaults not applied: %+v", def)
	}
	// POST again overwrites silently; explicit zero is kept.
	a.expect(200, "POST", "/metadata/taskdefs", `[{"name":"td1","retryCount":0}, {"name":"td2"}]`)
	a.expect(200, "GET", "/metadata/taskdefs/td1", nil).json(t, &def)
	if def.RetryCount != 0 {
		t.Fatalf("retryCount %d, want 0", def.RetryCount)
	}
	var all []model.TaskDef
	a.expect(200, "GET", "/metadata/taskdefs", nil).json(t, &all)
	if len(all) != 2 {
		t.Fatalf("%d defs", len(all))
	}
	a.expect(200, "PUT", "/metadata/taskdefs", `{"name":"td2","retryCount":7}`)
	a.expect(200, "GET", "/metadata/taskdefs/td2", nil).json(t, &def)
	if def.RetryCount != 7 {
		t.Fatalf("PUT not applied: %+v", def)
	}
	if e := a.expect(404, "PUT", "/metadata/taskdefs", `{"name":"nope"}`).errBody(t); e.Message != "No such task by name nope" {
		t.Fatalf("message %q", e.Message)
	}
	if e := a.expect(404, "GET", "/metadata/taskdefs/nope", nil).errBody(t); e.Message != "No such taskType found by name: nope" {
		t.Fatalf("message %q", e.Message)
	}
	a.expect(200, "DELETE", "/metadata/taskdefs/td2", nil)
	a.expect(404, "DELETE", "/metadata/taskdefs/td2", nil)
}

func TestTaskDefValidation(t *testing.T) {
	strict := newAPI(t)
	strictSrv := conductortest.NewServer()
	t.Cleanup(strictSrv.Close)
	strict.base = strictSrv.URL()
	cases := []struct {
		name    string
		body    string
		status  int
		message string
	}{
		{"single object", `{"name":"x","ownerEmail":"a@b.c"}`, 500, ""},
		{"missing ownerEmail", `[{"name":"x"}]`, 400, "ownerEmail cannot be empty"},
		{"missing name", `[{"ownerEmail":"a@b.c"}]`, 400, "TaskDef name cannot be null or empty"},
		{"timeout below default response timeout", `[{"name":"x","ownerEmail":"a@b.c","timeoutSeconds":60}]`, 400,
			"TaskDef: x responseTimeoutSeconds: 3600 must be less than timeoutSeconds: 60"},
		{"bad enum", `[{"name":"x","ownerEmail":"a@b.c","retryLogic":"SOMETIMES"}]`, 500, ""},
		{"empty list", `[]`, 400, "TaskDefList is empty"},
		{"ok", `[{"name":"x","ownerEmail":"a@b.c","timeoutSeconds":60,"responseTimeoutSeconds":30}]`, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := strict.expect(c.status, "POST", "/metadata/taskdefs", c.body)
			if c.message == "" {
				return
			}
			e := r.errBody(t)
			found := false
			for _, v := range e.ValidationErrors {
				found = found || v.Message == c.message
			}
			if !found {
				t.Fatalf("no validation error %q in %+v", c.message, e)
			}
		})
	}
}

func TestWorkflowDefs(t *testing.T) {
	a := newAPI(t)
	def := simpleWorkflow("wdef", "t1")
	a.expect(200, "POST", "/metadata/workflow", def)
	e := a.expect(409, "POST", "/metadata/workflow", def).errBody(t)
	if e.Message != "Workflow with wdef.1 already exists!" {
		t.Fatalf("message %q", e.Message)
	}
	v2 := simpleWorkflow("wdef", "t1", "t2")
	v2.Version = 2
	var bulk model.BulkResponse
	a.expect(200, "PUT", "/metadata/workflow", []model.WorkflowDef{def, v2}).json(t, &bulk)
	if len(bulk.BulkSuccessfulResults) != 2 || bulk.BulkErrorResults == nil {
		t.Fatalf("bulk %+v", bulk)
	}
	var got model.WorkflowDef
	a.expect(200, "GET", "/metadata/workflow/wdef", nil).json(t, &got)
	if got.Version != 2 || len(got.Tasks) != 2 || got.SchemaVersion != 2 {
		t.Fatalf("latest %+v", got)
	}
	a.expect(200, "GET", "/metadata/workflow/wdef?version=1", nil).json(t, &got)
	if got.Version != 1 {
		t.Fatalf("version 1: %+v", got)
	}
	if e := a.expect(404, "GET", "/metadata/workflow/wdef?version=9", nil).errBody(t); e.Message != "No such workflow found by name: wdef, version: 9" {
		t.Fatalf("message %q", e.Message)
	}
	if e := a.expect(404, "GET", "/metadata/workflow/none", nil).errBody(t); e.Message != "No such workflow found by name: none, version: null" {
		t.Fatalf("message %q", e.Message)
	}
	var all []model.WorkflowDef
	a.expect(200, "GET", "/metadata/workflow", nil).json(t, &all)
	if len(all) != 2 {
		t.Fatalf("%d defs", len(all))
	}
	// Invalid definitions.
	dup := simpleWorkflow("dup", "a", "b")
	dup.Tasks[1].TaskReferenceName = dup.Tasks[0].TaskReferenceName
	a.expect(400, "POST", "/metadata/workflow", dup)
	a.expect(400, "POST", "/metadata/workflow", model.WorkflowDef{Name: "empty"})
	badExpr := simpleWorkflow("badexpr", "a")
	badExpr.Tasks[0].InputParameters = map[string]any{"x": "${nowhere.output.y}"}
	a.expect(400, "PUT", "/metadata/workflow", []model.WorkflowDef{badExpr})
	a.expect(200, "DELETE", "/metadata/workflow/wdef/1", nil)
	a.expect(404, "DELETE", "/metadata/workflow/wdef/1", nil)

	strictSrv := conductortest.NewServer()
	t.Cleanup(strictSrv.Close)
	a.base = strictSrv.URL()
	r := a.expect(400, "POST", "/metadata/workflow", simpleWorkflow("noowner", "t"))
	if e := r.errBody(t); len(e.ValidationErrors) != 1 || !strings.HasSuffix(e.ValidationErrors[0].Path, "ownerEmail") {
		t.Fatalf("validation %+v", e)
	}
}

func TestEmbeddedTaskDefinitionGetsDefaults(t *testing.T) {
	a := newAPI(t)
	a.expect(200, "POST", "/metadata/workflow",
		`{"name":"emb","tasks":[{"name":"emb_task","taskReferenceName":"e","taskDefinition":{"name":"emb_task","retryCount":1}}]}`)
	a.start("emb", nil)
	task := a.pollOne("emb_task")
	if task.ResponseTimeoutSeconds != 3600 || task.WorkflowTask.TaskDefinition.RetryCount != 1 {
		t.Fatalf("embedded def %+v", task.WorkflowTask.TaskDefinition)
	}
}
