package conductortest_test

import (
	"strings"
	"testing"

	"github.com/baton-go/baton/internal/devflags"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// defJSON fills a JSON template: NAME becomes name and OWNER the owner
// e-mail address.
func defJSON(tmpl, name string) string {
	return strings.NewReplacer("NAME", name, "OWNER", owner).Replace(tmpl)
}

func TestTaskDefsDefaultsAndUpsert(t *testing.T) {
	a := newAPI(t)
	td1, td2 := a.name("td1"), a.name("td2")
	a.expect(200, "POST", "/metadata/taskdefs", defJSON(`[{"name":"NAME","ownerEmail":"OWNER"}]`, td1))
	var def model.TaskDef
	a.expect(200, "GET", "/metadata/taskdefs/"+td1, nil).json(t, &def)
	if def.RetryCount != 3 || def.RetryDelaySeconds != 60 || def.ResponseTimeoutSeconds != 3600 || def.TimeoutPolicy != "TIME_OUT_WF" ||
		def.RetryLogic != "FIXED" || def.BackoffScaleFactor != 1 || def.RateLimitFrequencyInSeconds != 1 || def.CreateTime == 0 {
		t.Fatalf("defaults not applied: %+v", def)
	}
	// POST again overwrites silently; explicit zero is kept.
	a.expect(200, "POST", "/metadata/taskdefs", defJSON(`[{"name":"NAME","ownerEmail":"OWNER","retryCount":0}, {"name":"`+td2+`","ownerEmail":"OWNER"}]`, td1))
	a.expect(200, "GET", "/metadata/taskdefs/"+td1, nil).json(t, &def)
	if def.RetryCount != 0 {
		t.Fatalf("retryCount %d, want 0", def.RetryCount)
	}
	var all []model.TaskDef
	a.expect(200, "GET", "/metadata/taskdefs", nil).json(t, &all)
	ours := 0
	for _, d := range all {
		if strings.HasSuffix(d.Name, "_"+a.suffix) {
			ours++
		}
	}
	if ours != 2 {
		t.Fatalf("%d of our definitions listed, want 2", ours)
	}
	a.expect(200, "PUT", "/metadata/taskdefs", defJSON(`{"name":"NAME","ownerEmail":"OWNER","retryCount":7}`, td2))
	a.expect(200, "GET", "/metadata/taskdefs/"+td2, nil).json(t, &def)
	if def.RetryCount != 7 {
		t.Fatalf("PUT not applied: %+v", def)
	}
	nope := a.name("nope")
	if e := a.expect(404, "PUT", "/metadata/taskdefs", defJSON(`{"name":"NAME","ownerEmail":"OWNER"}`, nope)).errBody(t); e.Message != "No such task by name "+nope {
		t.Fatalf("message %q", e.Message)
	}
	if e := a.expect(404, "GET", "/metadata/taskdefs/"+nope, nil).errBody(t); e.Message != "No such taskType found by name: "+nope {
		t.Fatalf("message %q", e.Message)
	}
	a.expect(200, "DELETE", "/metadata/taskdefs/"+td2, nil)
	// An unknown definition: 404 on 3.21 (and 3.32 with Redis), 500 on 3.32
	// with SQLite.
	if !a.sqlite() {
		a.expect(404, "DELETE", "/metadata/taskdefs/"+td2, nil)
	} else {
		expectError(t, a, 500, "DELETE", "/metadata/taskdefs/"+td2, nil, "No such task definition")
	}
}

func TestTaskDefValidation(t *testing.T) {
	a := newAPI(t)
	cases := []struct {
		name    string
		body    string
		status  int
		message string
	}{
		{"single object", `{"name":"NAME","ownerEmail":"OWNER"}`, 500, ""},
		{"missing ownerEmail", `[{"name":"NAME"}]`, 400, "ownerEmail cannot be empty"}, // 3.21 only, see below
		{"missing name", `[{"ownerEmail":"OWNER"}]`, 400, "TaskDef name cannot be null or empty"},
		{"timeout below default response timeout", `[{"name":"NAME","ownerEmail":"OWNER","timeoutSeconds":60}]`, 400,
			"TaskDef: NAME responseTimeoutSeconds: 3600 must be less than timeoutSeconds: 60"},
		{"bad enum", `[{"name":"NAME","ownerEmail":"OWNER","retryLogic":"SOMETIMES"}]`, 500, ""},
		{"empty list", `[]`, 400, "TaskDefList is empty"},
		{"ok", `[{"name":"NAME","ownerEmail":"OWNER","timeoutSeconds":60,"responseTimeoutSeconds":30}]`, 200, ""},
	}
	name := a.name("x")
	if !a.is321() {
		cases[1].status, cases[1].message = 200, "" // ownerEmail is optional on 3.32
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.on(t).expect(c.status, "POST", "/metadata/taskdefs", defJSON(c.body, name))
			if c.message == "" {
				return
			}
			e := r.errBody(t)
			found := false
			for _, v := range e.ValidationErrors {
				found = found || v.Message == defJSON(c.message, name)
			}
			if !found {
				t.Fatalf("no validation error %q in %+v", c.message, e)
			}
		})
	}
}

// The 3.21 profile requires ownerEmail unless WithOwnerEmailOptional says
// otherwise; the 3.32 profile never does, as 3.32 ships with
// conductor.app.ownerEmailMandatory=false.
func TestOwnerEmailByVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []conductortest.Option
		want int
	}{
		{"3.21", []conductortest.Option{conductortest.WithVersion(conductortest.Version321)}, 400},
		{"3.21 optional", []conductortest.Option{conductortest.WithVersion(conductortest.Version321), conductortest.WithOwnerEmailOptional()}, 200},
		{"3.32", []conductortest.Option{conductortest.WithVersion(conductortest.Version332)}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPI(t, tc.opts...)
			a.needLocal("a version profile")
			tt := a.name("noowner")
			a.expect(tc.want, "POST", "/metadata/taskdefs", `[{"name":"`+tt+`"}]`)
			a.expect(tc.want, "POST", "/metadata/workflow", `{"name":"`+tt+`","tasks":[{"name":"`+tt+`","taskReferenceName":"r"}]}`)
		})
	}
}

func TestDefaultVersionIsNewest(t *testing.T) {
	srv := conductortest.NewServer()
	defer srv.Close()
	if srv.Version() != conductortest.Version332 {
		t.Fatalf("default profile %s, want 3.32", srv.Version())
	}
	if _, err := conductortest.Start(conductortest.WithVersion("3.4")); err == nil || !strings.Contains(err.Error(), `"3.4"`) {
		t.Fatalf("unknown version: %v, want an error naming it", err)
	}
	for in, want := range map[string]conductortest.Version{"3.21": "3.21", "3.21.14": "3.21", "3.32.3": "3.32"} {
		if got, err := devflags.ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// WithOwnerEmailOptional accepts definitions without ownerEmail, as the real
// server does with conductor.app.ownerEmailMandatory=false.
func TestOwnerEmailOptional(t *testing.T) {
	a := newAPI(t, conductortest.WithOwnerEmailOptional())
	a.needLocal("WithOwnerEmailOptional")
	a.expect(200, "POST", "/metadata/taskdefs", `[{"name":"x"}]`)
	a.expect(200, "PUT", "/metadata/taskdefs", `{"name":"x"}`)
	a.expect(200, "POST", "/metadata/workflow", `{"name":"w","tasks":[{"name":"x","taskReferenceName":"r"}]}`)
	a.expect(200, "PUT", "/metadata/workflow", `[{"name":"w","version":2,"tasks":[{"name":"x","taskReferenceName":"r"}]}]`)
}

func TestWorkflowDefs(t *testing.T) {
	a := newAPI(t)
	wdef := a.name("wdef")
	t1, t2 := a.name("t1"), a.name("t2")
	def := simpleWorkflow(wdef, t1)
	a.expect(200, "POST", "/metadata/workflow", def)
	e := a.expect(409, "POST", "/metadata/workflow", def).errBody(t)
	if e.Message != "Workflow with "+wdef+".1 already exists!" {
		t.Fatalf("message %q", e.Message)
	}
	v2 := simpleWorkflow(wdef, t1, t2)
	v2.Version = 2
	var bulk model.BulkResponse
	a.expect(200, "PUT", "/metadata/workflow", []model.WorkflowDef{def, v2}).json(t, &bulk)
	if len(bulk.BulkSuccessfulResults) != 2 || bulk.BulkErrorResults == nil {
		t.Fatalf("bulk %+v", bulk)
	}
	var got model.WorkflowDef
	a.expect(200, "GET", "/metadata/workflow/"+wdef, nil).json(t, &got)
	if got.Version != 2 || len(got.Tasks) != 2 || got.SchemaVersion != 2 {
		t.Fatalf("latest %+v", got)
	}
	a.expect(200, "GET", "/metadata/workflow/"+wdef+"?version=1", nil).json(t, &got)
	if got.Version != 1 {
		t.Fatalf("version 1: %+v", got)
	}
	if e := a.expect(404, "GET", "/metadata/workflow/"+wdef+"?version=9", nil).errBody(t); e.Message != "No such workflow found by name: "+wdef+", version: 9" {
		t.Fatalf("message %q", e.Message)
	}
	none := a.name("none")
	if e := a.expect(404, "GET", "/metadata/workflow/"+none, nil).errBody(t); e.Message != "No such workflow found by name: "+none+", version: null" {
		t.Fatalf("message %q", e.Message)
	}
	var all []model.WorkflowDef
	a.expect(200, "GET", "/metadata/workflow", nil).json(t, &all)
	ours := 0
	for _, d := range all {
		if d.Name == wdef {
			ours++
		}
	}
	if ours != 2 {
		t.Fatalf("%d versions of %s listed, want 2", ours, wdef)
	}
	// Invalid definitions.
	dup := simpleWorkflow(a.name("dup"), "a", "b")
	dup.Tasks[1].TaskReferenceName = dup.Tasks[0].TaskReferenceName
	a.expect(400, "POST", "/metadata/workflow", dup)
	a.expect(400, "POST", "/metadata/workflow", defJSON(`{"name":"NAME","ownerEmail":"OWNER"}`, a.name("empty")))
	// "tasks": null (what a Go WorkflowDef without tasks sends) fails inside
	// the validator.
	if e := a.expect(500, "POST", "/metadata/workflow", model.WorkflowDef{Name: a.name("empty"), OwnerEmail: owner}).errBody(t); e.Message != "HV000028: Unexpected exception during isValid call." {
		t.Fatalf("tasks null: %q", e.Message)
	}
	badExpr := simpleWorkflow(a.name("badexpr"), "a")
	badExpr.Tasks[0].InputParameters = map[string]any{"x": "${nowhere.output.y}"}
	a.expect(400, "PUT", "/metadata/workflow", []model.WorkflowDef{badExpr})
	a.expect(200, "DELETE", "/metadata/workflow/"+wdef+"/1", nil)
	expectDeleteUnknownWorkflowDef(t, a, wdef, 1)

	noOwner := simpleWorkflow(a.name("noowner"), "t")
	noOwner.OwnerEmail = ""
	if !a.is321() {
		a.expect(200, "POST", "/metadata/workflow", noOwner) // optional on 3.32
		return
	}
	r := a.expect(400, "POST", "/metadata/workflow", noOwner)
	if e := r.errBody(t); len(e.ValidationErrors) != 1 || !strings.HasSuffix(e.ValidationErrors[0].Path, "ownerEmail") {
		t.Fatalf("validation %+v", e)
	}
}

func TestEmbeddedTaskDefinitionGetsDefaults(t *testing.T) {
	a := newAPI(t)
	wfName, taskType := a.name("emb"), a.name("emb_task")
	a.expect(200, "POST", "/metadata/workflow", strings.NewReplacer("WF", wfName, "TASK", taskType, "OWNER", owner).Replace(
		`{"name":"WF","ownerEmail":"OWNER","tasks":[{"name":"TASK","taskReferenceName":"e","taskDefinition":{"name":"TASK","retryCount":1}}]}`))
	a.start(wfName, nil)
	task := a.pollOne(taskType)
	if task.ResponseTimeoutSeconds != 3600 || task.WorkflowTask.TaskDefinition.RetryCount != 1 {
		t.Fatalf("embedded def %+v", task.WorkflowTask.TaskDefinition)
	}
}
