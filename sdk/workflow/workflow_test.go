package workflow_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/workflow"
)

// Def refuses what the server would refuse, saying which task is wrong:
// a reference name used twice anywhere (a switch branch, a fork branch, a
// loop body), a task without a reference name, a workflow without name or
// tasks.
func TestDefRefusesWhatTheServerRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		wf   *workflow.Workflow
		want string
	}{
		"no name":        {workflow.New("").Add(workflow.Wait("w")), "no name"},
		"no tasks":       {workflow.New("wf"), "no tasks"},
		"empty ref":      {workflow.New("wf").Add(workflow.Simple("t", "")), `(name "t", type SIMPLE) has no reference name`},
		"empty name":     {workflow.New("wf").Add(workflow.Simple("", "r")), "task r has no name"},
		"duplicate":      {workflow.New("wf").Add(workflow.Wait("x"), workflow.Inline("x", "1")), "reference name x is used by more than one task"},
		"in switch case": {workflow.New("wf").Add(workflow.Wait("x"), workflow.Switch("s", "v").Case("a", workflow.Wait("x"))), "reference name x"},
		"in default":     {workflow.New("wf").Add(workflow.Wait("x"), workflow.Switch("s", "v").Default(workflow.Wait("x"))), "reference name x"},
		"in fork":        {workflow.New("wf").Add(workflow.Fork("f", []workflow.Task{workflow.Wait("x")}, []workflow.Task{workflow.Wait("x")})), "reference name x"},
		"fork's join":    {workflow.New("wf").Add(workflow.Wait("f_join"), workflow.Fork("f", []workflow.Task{workflow.Wait("x")})), "reference name f_join"},
		"in loop":        {workflow.New("wf").Add(workflow.Loop("x", 2, workflow.Wait("x"))), "reference name x"},
	} {
		_, err := tc.wf.Def()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.want)
		}
	}
}

// Changing a task or a map after Def does not change the definition
// already made, and Def can be called again.
func TestDefIsASnapshot(t *testing.T) {
	out := map[string]interface{}{"a": "${s.output.a}"}
	s := workflow.Simple("worker", "s").Input("k", 1)
	wf := workflow.New("wf").OutputParameters(out).Add(s)
	first := wf.MustDef()
	s.Input("k", 2)
	out["a"] = "changed"
	if first.Tasks[0].InputParameters["k"] != 1 || first.OutputParameters["a"] != "${s.output.a}" {
		t.Fatalf("definition changed afterwards: %+v", first)
	}
	if second := wf.MustDef(); second.Tasks[0].InputParameters["k"] != 2 {
		t.Fatalf("second Def did not see the change: %+v", second.Tasks[0].InputParameters)
	}
}

// The definitions carry what the servers need to run each task type
// (test/integration runs them; test/bench/compat compares them with the
// official SDK's).
func TestTaskShapes(t *testing.T) {
	fork := workflow.Fork("f", []workflow.Task{workflow.Simple("w", "a1"), workflow.Simple("w", "a2")}, []workflow.Task{workflow.Wait("b")})
	def := workflow.New("wf").Add(
		fork,
		workflow.WaitFor("nap", 1500*time.Millisecond),
		workflow.Loop("loop", 3, workflow.Inline("step", "1")),
		workflow.DynamicFork("df", "${p.output.tasks}", "${p.output.inputs}"),
		workflow.SubWorkflowOf("sub", workflow.New("child").Version(2).Add(workflow.Inline("c", "1"))),
	).MustDef()
	if def.SchemaVersion != 2 || !def.Restartable || def.TimeoutPolicy != model.TimeoutPolicyAlertOnly {
		t.Errorf("workflow defaults: %+v", def)
	}
	refs := []string{}
	for _, tk := range def.Tasks {
		refs = append(refs, tk.TaskReferenceName+":"+tk.Type)
	}
	if got := strings.Join(refs, " "); got != "f:FORK_JOIN f_join:JOIN nap:WAIT loop:DO_WHILE df:FORK_JOIN_DYNAMIC df_join:JOIN sub:SUB_WORKFLOW" {
		t.Fatalf("tasks: %s", got)
	}
	if j := def.Tasks[1].JoinOn; len(j) != 2 || j[0] != "a2" || j[1] != "b" {
		t.Errorf("fork's join waits for %v, want the last task of each branch [a2 b]", j)
	}
	if d := def.Tasks[2].InputParameters["duration"]; d != "2s" {
		t.Errorf("WaitFor(1.5s) duration %v, want 2s (whole seconds)", d)
	}
	if def.Tasks[3].InputParameters["loop_count"] != 3 || !strings.Contains(def.Tasks[3].LoopCondition, "$.loop['iteration'] < $.loop_count") {
		t.Errorf("loop: %+v", def.Tasks[3])
	}
	if len(def.Tasks[5].JoinOn) != 0 {
		t.Errorf("a dynamic fork's join lists %v; the server fills it", def.Tasks[5].JoinOn)
	}
	sub := def.Tasks[6].SubWorkflowParam
	if sub == nil || sub.Name != "child" || sub.WorkflowDefinition == nil || sub.WorkflowDefinition.Version != 2 || len(sub.WorkflowDefinition.Tasks) != 1 {
		t.Errorf("inline sub-workflow: %+v", sub)
	}
	b, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"forkTasks"`, `"joinOn"`, `"loopOver"`, `"dynamicForkTasksParam":"forkedTasks"`, `"subWorkflowParam"`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON lacks %s: %s", field, b)
		}
	}
}

// Raw passes a hand-made task through unchanged, and Def checks it like
// the others.
func TestRawTask(t *testing.T) {
	wt := model.WorkflowTask{Name: "decide", TaskReferenceName: "d", Type: "DECISION", CaseValueParam: "k",
		DecisionCases: map[string][]model.WorkflowTask{"a": {{Name: "w", TaskReferenceName: "a1", Type: "SIMPLE"}}}}
	def := workflow.New("wf").Add(workflow.Raw(wt)).MustDef()
	if got := def.Tasks[0]; got.CaseValueParam != "k" || got.DecisionCases["a"][0].TaskReferenceName != "a1" {
		t.Fatalf("raw task: %+v", got)
	}
	if _, err := workflow.New("wf").Add(workflow.Wait("a1"), workflow.Raw(wt)).Def(); err == nil || !strings.Contains(err.Error(), "a1") {
		t.Fatalf("duplicate inside a raw task: %v", err)
	}
}
