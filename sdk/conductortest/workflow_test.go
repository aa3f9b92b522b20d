package conductortest_test

import (
	"testing"

	"github.com/baton-go/baton/sdk/model"
)

func TestSequentialWorkflowWithExpressions(t *testing.T) {
	a := newAPI(t)
	wfName, typeA, typeB := a.name("seq"), a.name("task_a"), a.name("task_b")
	def := simpleWorkflow(wfName, typeA, typeB)
	def.Tasks[0].InputParameters = map[string]any{"n": "${workflow.input.n}", "greeting": "hello ${workflow.input.who}!"}
	def.Tasks[1].InputParameters = map[string]any{"fromA": "${ref0.output.result}", "missing": "${ref0.output.nope}", "obj": "${ref0.output}"}
	def.OutputParameters = map[string]any{"final": "${ref1.output.done}", "n": "${workflow.input.n}"}
	a.registerWorkflow(def)

	id := a.start(wfName, map[string]any{"n": 42, "who": "world"})
	ta := a.pollOne(typeA)
	if ta.Status != model.TaskInProgress || ta.PollCount != 1 || ta.WorkerId != "w1" || ta.StartTime == 0 {
		t.Fatalf("polled task: status %s pollCount %d worker %q start %d", ta.Status, ta.PollCount, ta.WorkerId, ta.StartTime)
	}
	if ta.InputData["n"] != float64(42) || ta.InputData["greeting"] != "hello world!" {
		t.Fatalf("task_a input = %v", ta.InputData)
	}
	a.update(ta, model.CompletedTask, map[string]any{"result": []any{"x", 1.0}}, "")

	tb := a.pollOne(typeB)
	if got, ok := tb.InputData["fromA"].([]any); !ok || len(got) != 2 || got[0] != "x" {
		t.Fatalf("task_b fromA = %#v", tb.InputData["fromA"])
	}
	if v, ok := tb.InputData["missing"]; !ok || v != nil {
		t.Fatalf("missing expression = %#v (present %v), want null", v, ok)
	}
	if _, ok := tb.InputData["obj"].(map[string]any); !ok {
		t.Fatalf("obj = %#v, want the whole output map", tb.InputData["obj"])
	}
	a.update(tb, model.CompletedTask, map[string]any{"done": true}, "")

	wf := a.workflow(id)
	if wf.Status != model.WorkflowCompleted {
		t.Fatalf("workflow status %s, want COMPLETED", wf.Status)
	}
	if wf.Output["final"] != true || wf.Output["n"] != float64(42) {
		t.Fatalf("workflow output %v", wf.Output)
	}
	if len(wf.Tasks) != 2 || wf.Tasks[0].Seq != 1 || wf.Tasks[1].Seq != 2 {
		t.Fatalf("tasks %+v", wf.Tasks)
	}
}
