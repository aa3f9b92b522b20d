package wire

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/baton-go/baton/sdk/model"
)

// The hand-written task encoder must produce exactly what encoding/json
// produces for model.Task, except that inputData and outputData are always
// written ({} when empty), as the real server does.
func TestAppendTaskMatchesEncodingJSON(t *testing.T) {
	def := model.TaskDef{Name: "enc", RetryCount: 3, RetryDelaySeconds: 60, RetryLogic: model.RetryFixed,
		ResponseTimeoutSeconds: 3600, TimeoutPolicy: model.TimeoutPolicyTimeOutWF, RateLimitFrequencyInSeconds: 1,
		BackoffScaleFactor: 1, InputKeys: []string{}, OutputKeys: []string{}, InputTemplate: map[string]any{}}
	retries := 2
	wt := &model.WorkflowTask{Name: "enc", TaskReferenceName: "r", Type: "SIMPLE", RetryCount: &retries, TaskDefinition: &def,
		InputParameters: map[string]any{"a": "${workflow.input.a}"}}
	cases := []model.Task{
		{},
		{
			TaskType: "enc", Status: model.TaskInProgress, ReferenceTaskName: "r", RetryCount: 1, Seq: 3,
			InputData: map[string]any{"s": "quote\" back\\ nl\n tab\t <html> & \u2028 \x01 é", "n": 1.5, "big": 1e21, "small": 1e-7,
				"i": 42.0, "neg": -3.0, "nil": nil, "list": []any{true, false, "x", map[string]any{"z": 1.0, "a": []any{}}}, "empty": map[string]any{}},
			OutputData: map[string]any{"ok": true}, CorrelationId: "c", PollCount: 2, TaskDefName: "enc",
			ScheduledTime: 1, StartTime: 2, EndTime: 3, UpdateTime: 4, StartDelayInSeconds: 5, RetriedTaskId: "old",
			Retried: true, Executed: true, CallbackFromWorker: true, ResponseTimeoutSeconds: 3600,
			WorkflowInstanceId: "wf", WorkflowType: "wft", TaskId: "id", ReasonForIncompletion: "why", CallbackAfterSeconds: 7,
			WorkerId: "w", WorkflowTask: wt, Domain: "d", RateLimitPerFrequency: 1, RateLimitFrequencyInSeconds: 2,
			ExternalInputPayloadStoragePath: "in", ExternalOutputPayloadStoragePath: "out", WorkflowPriority: 9,
			ExecutionNameSpace: "ns", IsolationGroupId: "ig", Iteration: 1, SubWorkflowId: "sub", SubworkflowChanged: true,
			FirstStartTime: 8, ParentTaskId: "p", QueueWaitTime: 1, LoopOverTask: true, TaskDefinition: &def,
		},
	}
	for i, c := range cases {
		want := Marshal(&c)
		tj := Task{Model: c}
		if c.WorkflowTask != nil {
			tj.WorkflowTask = Marshal(c.WorkflowTask)
		}
		if c.TaskDefinition != nil {
			tj.TaskDef = Marshal(c.TaskDefinition)
		}
		got := AppendTask(nil, &tj)
		if len(c.InputData) > 0 && len(c.OutputData) > 0 {
			if string(got) != string(want) {
				t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
			}
			continue
		}
		var gotMap, wantMap map[string]any
		if err := json.Unmarshal(got, &gotMap); err != nil {
			t.Fatalf("case %d: %v in %s", i, err, got)
		}
		_ = json.Unmarshal(want, &wantMap)
		for _, k := range []string{"inputData", "outputData"} {
			if _, ok := wantMap[k]; !ok {
				wantMap[k] = map[string]any{}
			}
		}
		if !reflect.DeepEqual(gotMap, wantMap) {
			t.Errorf("case %d:\n got %s\nwant %v", i, got, wantMap)
		}
	}
}
