package compat

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	cgmodel "github.com/conductor-sdk/conductor-go/sdk/model"
	cg "github.com/conductor-sdk/conductor-go/sdk/workflow"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/workflow"
)

// The same workflows built with conductor-go's builder and with Baton's
// must give the same JSON definition, up to what normalize removes: the
// "overwriteTags" flag conductor-go always sends, which Conductor OSS does
// not have.

// asJSON marshals v and decodes it again into plain maps and slices.
func asJSON(t *testing.T, v interface{}) interface{} {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out interface{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return normalize(out)
}

func normalize(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		delete(x, "overwriteTags")
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []interface{}:
		for i, e := range x {
			x[i] = normalize(e)
		}
	}
	return v
}

func pretty(v interface{}) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// same compares the two definitions' JSON.
func same(t *testing.T, official *cgmodel.WorkflowDef, baton *workflow.Workflow) {
	t.Helper()
	def, err := baton.Def()
	if err != nil {
		t.Fatal(err)
	}
	want, got := asJSON(t, official), asJSON(t, def)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("definitions differ\nconductor-go:\n%s\nbaton:\n%s", pretty(want), pretty(got))
	}
}

func TestBuilderMatchesOfficialTaskTypes(t *testing.T) {
	t.Run("simple and workflow fields", func(t *testing.T) {
		official := cg.NewConductorWorkflow(nil).Name("wf").Version(3).Description("d").OwnerEmail("a@b.c").
			TimeoutPolicy(cg.TimeOutWorkflow, 60).FailureWorkflow("on_fail").Restartable(false).
			InputParameters("x", "y").OutputParameters(map[string]interface{}{"r": "${s1.output.r}"}).
			Variables(map[string]interface{}{"v": 1}).InputTemplate(map[string]interface{}{"x": 2}).
			WorkflowStatusListenerEnabled(true).
			Add(cg.NewSimpleTask("worker", "s1").Input("a", "${workflow.input.x}").Description("first").Optional(true)).
			Add(cg.NewSimpleTask("worker", "s2").RetryPolicy(2, cg.LinearBackoffRetry, 5, 3))
		baton := workflow.New("wf").Version(3).Description("d").OwnerEmail("a@b.c").
			Timeout(model.TimeoutPolicyTimeOutWF, 60).FailureWorkflow("on_fail").Restartable(false).
			InputParameters("x", "y").OutputParameters(map[string]interface{}{"r": "${s1.output.r}"}).
			Variables(map[string]interface{}{"v": 1}).InputTemplate(map[string]interface{}{"x": 2}).
			StatusListener(true).
			Add(workflow.Simple("worker", "s1").Input("a", "${workflow.input.x}").Description("first").Optional(true),
				workflow.Simple("worker", "s2").Definition(model.TaskDef{RetryCount: 2, RetryLogic: model.RetryLinearBackoff, RetryDelaySeconds: 5, BackoffScaleFactor: 3}))
		same(t, official.ToWorkflowDef(), baton)
	})
	t.Run("system tasks", func(t *testing.T) {
		official := cg.NewConductorWorkflow(nil).Name("sys").
			Add(cg.NewHttpTask("call", &cg.HttpInput{Method: cg.POST, Uri: "http://x/y", Headers: map[string][]string{"A": {"1"}},
				Accept: "application/json", ContentType: "application/json", Body: map[string]interface{}{"k": "v"}})).
			Add(cg.NewHttpTask("get", &cg.HttpInput{Uri: "http://x/z"})).
			Add(cg.NewInlineTask("js", "$.a + 1").Input("a", 1)).
			Add(cg.NewInlineGraalJSTask("graal", "$.a")).
			Add(cg.NewJQTask("jq", ".a | .b").Input("a", map[string]interface{}{"b": 1})).
			Add(cg.NewSetVariableTask("vars").Input("k", "v")).
			Add(cg.NewWaitTask("wait")).
			Add(cg.NewWaitForDurationTask("nap", 90*time.Second)).
			Add(cg.NewWaitUntilTask("until", "2030-01-02 03:04")).
			Add(cg.NewConductorEventTask("evt", "orders")).
			Add(cg.NewSqsEventTask("sqs", "queue1")).
			Add(cg.NewHumanTask("human").Input("who", "ann")).
			Add(cg.NewDynamicTask("dyn", "${workflow.input.t}")).
			Add(cg.NewSubWorkflowTask("sub", "child", 2).TaskToDomain(map[string]string{"*": "d"}).Input("i", 1)).
			Add(cg.NewKafkaPublishTask("kafka", &cg.KafkaPublishTaskInput{BootStrapServers: "k:9092", Topic: "t", Key: "k", Value: "v"})).
			Add(cg.NewTerminateTask("end", cgmodel.CompletedWorkflow, "done"))
		baton := workflow.New("sys").Add(
			workflow.HTTP("call", workflow.HTTPRequest{Method: "POST", URI: "http://x/y", Headers: map[string]interface{}{"A": []string{"1"}},
				Accept: "application/json", ContentType: "application/json", Body: map[string]interface{}{"k": "v"}}),
			workflow.HTTP("get", workflow.HTTPRequest{URI: "http://x/z"}),
			workflow.Inline("js", "$.a + 1").Input("a", 1),
			workflow.InlineGraalJS("graal", "$.a"),
			workflow.JQ("jq", ".a | .b").Input("a", map[string]interface{}{"b": 1}),
			workflow.SetVariable("vars").Input("k", "v"),
			workflow.Wait("wait"),
			workflow.WaitFor("nap", 90*time.Second),
			workflow.WaitUntil("until", "2030-01-02 03:04"),
			workflow.ConductorEvent("evt", "orders"),
			workflow.SQSEvent("sqs", "queue1"),
			workflow.Human("human").Input("who", "ann"),
			workflow.Dynamic("dyn", "${workflow.input.t}"),
			workflow.SubWorkflow("sub", "child", 2).TaskToDomain(map[string]string{"*": "d"}).Input("i", 1),
			workflow.KafkaPublish("kafka", workflow.KafkaRequest{BootStrapServers: "k:9092", Topic: "t", Key: "k", Value: "v"}),
			workflow.Terminate("end", model.WorkflowCompleted, "done"),
		)
		same(t, official.ToWorkflowDef(), baton)
	})
	t.Run("switch", func(t *testing.T) {
		official := cg.NewConductorWorkflow(nil).Name("sw").
			Add(cg.NewSwitchTask("by_value", "${workflow.input.k}").
				SwitchCase("a", cg.NewSimpleTask("w", "a1"), cg.NewSimpleTask("w", "a2")).
				SwitchCase("b", cg.NewSimpleTask("w", "b1")).
				DefaultCase(cg.NewTerminateTask("no", cgmodel.FailedWorkflow, "no case"))).
			Add(cg.NewSwitchTask("by_js", "$.n > 1 ? 'big' : 'small'").UseJavascript(true).Input("n", 2).
				SwitchCase("big", cg.NewSimpleTask("w", "big1")))
		baton := workflow.New("sw").Add(
			workflow.Switch("by_value", "${workflow.input.k}").
				Case("a", workflow.Simple("w", "a1"), workflow.Simple("w", "a2")).
				Case("b", workflow.Simple("w", "b1")).
				Default(workflow.Terminate("no", model.WorkflowFailed, "no case")),
			workflow.Switch("by_js", "$.n > 1 ? 'big' : 'small'").JavaScript().Input("n", 2).
				Case("big", workflow.Simple("w", "big1")),
		)
		same(t, official.ToWorkflowDef(), baton)
	})
	t.Run("fork and join", func(t *testing.T) {
		// conductor-go's NewForkTask joins on nothing; with the join named
		// explicitly it writes what Baton's Fork writes by itself.
		official := cg.NewConductorWorkflow(nil).Name("fork").
			Add(cg.NewForkTaskWithJoin("f", cg.NewJoinTask("f_join", "l2", "r1"),
				[]cg.TaskInterface{cg.NewSimpleTask("w", "l1"), cg.NewSimpleTask("w", "l2")},
				[]cg.TaskInterface{cg.NewSimpleTask("w", "r1")}))
		baton := workflow.New("fork").Add(workflow.Fork("f",
			[]workflow.Task{workflow.Simple("w", "l1"), workflow.Simple("w", "l2")},
			[]workflow.Task{workflow.Simple("w", "r1")}))
		same(t, official.ToWorkflowDef(), baton)
	})
	t.Run("do while", func(t *testing.T) {
		official := cg.NewConductorWorkflow(nil).Name("dw").
			Add(cg.NewDoWhileTask("loop", "$.loop['iteration'] < 3", cg.NewSimpleTask("w", "body"), cg.NewInlineTask("calc", "1")))
		baton := workflow.New("dw").Add(workflow.DoWhile("loop", "$.loop['iteration'] < 3", workflow.Simple("w", "body"), workflow.Inline("calc", "1")))
		same(t, official.ToWorkflowDef(), baton)
	})
	t.Run("dynamic fork", func(t *testing.T) {
		prep := cg.NewSimpleTask("prepare", "prep")
		official := cg.NewConductorWorkflow(nil).Name("df").Add(cg.NewDynamicForkTask("df", prep))
		bprep := workflow.Simple("prepare", "prep")
		baton := workflow.New("df").Add(bprep, workflow.DynamicFork("df", bprep.OutputRef("forkedTasks"), bprep.OutputRef("forkedTasksInputs")))
		same(t, official.ToWorkflowDef(), baton)
	})
	t.Run("inline sub-workflow and start workflow", func(t *testing.T) {
		child := cg.NewConductorWorkflow(nil).Name("child").Add(cg.NewInlineTask("c", "1"))
		version := int32(2)
		official := cg.NewConductorWorkflow(nil).Name("parent").
			Add(cg.NewSubWorkflowInlineTask("sub", child)).
			Add(cg.NewStartWorkflowTask("start", "other", &version, &cgmodel.StartWorkflowRequest{Input: map[string]interface{}{"a": 1}, CorrelationId: "c1"}))
		bchild := workflow.New("child").Add(workflow.Inline("c", "1"))
		baton := workflow.New("parent").Add(
			workflow.SubWorkflowOf("sub", bchild),
			workflow.StartWorkflow("start", "other", 2, map[string]interface{}{"a": 1}, "c1"))
		same(t, official.ToWorkflowDef(), baton)
	})
}

// TestLoopDiffersOnlyInItsCondition: conductor-go v1.5.4's NewLoopTask
// writes "$.loop_count['iteration'] < $.<ref>", which compares against the
// task's own output and never counts; Baton's Loop writes the condition the
// other way round and is otherwise the same.
func TestLoopDiffersOnlyInItsCondition(t *testing.T) {
	official := asJSON(t, cg.NewConductorWorkflow(nil).Name("l").Add(cg.NewLoopTask("loop", 3, cg.NewSimpleTask("w", "body"))).ToWorkflowDef())
	def, err := workflow.New("l").Add(workflow.Loop("loop", 3, workflow.Simple("w", "body"))).Def()
	if err != nil {
		t.Fatal(err)
	}
	baton := asJSON(t, def)
	cond := func(v interface{}) string {
		return fmt.Sprint(v.(map[string]interface{})["tasks"].([]interface{})[0].(map[string]interface{})["loopCondition"])
	}
	if got, want := cond(official), "if ( $.loop_count['iteration'] < $.loop ) { true; } else { false; }"; got != want {
		t.Fatalf("conductor-go's loop condition is now %q (was %q): revisit Loop and docs/migration.md", got, want)
	}
	if got, want := cond(baton), "if ( $.loop['iteration'] < $.loop_count ) { true; } else { false; }"; got != want {
		t.Fatalf("Baton's loop condition %q, want %q", got, want)
	}
	for _, v := range []interface{}{official, baton} {
		delete(v.(map[string]interface{})["tasks"].([]interface{})[0].(map[string]interface{}), "loopCondition")
	}
	if !reflect.DeepEqual(official, baton) {
		t.Fatalf("besides the condition:\nconductor-go:\n%s\nbaton:\n%s", pretty(official), pretty(baton))
	}
}
