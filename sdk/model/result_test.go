package model

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNewTaskResult(t *testing.T) {
	r := NewTaskResult(&Task{TaskId: "a", WorkflowInstanceId: "b", WorkerId: "c"})
	if r.TaskId != "a" || r.WorkflowInstanceId != "b" || r.WorkerId != "c" || r.OutputData == nil {
		t.Fatalf("NewTaskResult = %+v", r)
	}
	r2 := NewTaskResultFromTask(&Task{TaskId: "a"})
	if r2.TaskId != "a" {
		t.Fatalf("NewTaskResultFromTask = %+v", r2)
	}
	r.Log("line")
	if len(r.Logs) != 1 || r.Logs[0].TaskId != "a" {
		t.Fatalf("Log = %+v", r.Logs)
	}
}

func TestTaskResultJSONNeverSendsNullLogsOrOutput(t *testing.T) {
	b, err := json.Marshal(&TaskResult{TaskId: "t", WorkflowInstanceId: "w", Status: CompletedTask, OutputData: map[string]interface{}{}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "null") || strings.Contains(s, "logs") {
		t.Fatalf("encoded result %s must not carry null or logs", s)
	}
	if !strings.Contains(s, `"outputData":{}`) {
		t.Fatalf("encoded result %s lacks outputData", s)
	}
}

func TestTaskDecodeToleratesUnknownFields(t *testing.T) {
	body := `[{"taskType":"a","taskId":"1","workflowInstanceId":"w","status":"IN_PROGRESS","inputData":{"x":1},
	"orCreateExecutionMetadata":{"serverSendTime":1},"somethingNew":[1,2],"pollCount":1,"responseTimeoutSeconds":3600}]`
	var tasks []Task
	if err := json.Unmarshal([]byte(body), &tasks); err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].TaskId != "1" || tasks[0].PollCount != 1 || tasks[0].ResponseTimeoutSeconds != 3600 {
		t.Fatalf("decoded %+v", tasks)
	}
}

func TestStatuses(t *testing.T) {
	for _, s := range []TaskResultStatus{InProgressTask, FailedTask, FailedWithTerminalErrorTask, CompletedTask} {
		if !s.Valid() {
			t.Errorf("%s should be valid", s)
		}
	}
	if TaskResultStatus("SCHEDULED").Valid() || InProgressTask.Terminal() || !CompletedTask.Terminal() {
		t.Error("status predicates wrong")
	}
	if TaskScheduled.Terminal() || TaskInProgress.Terminal() || !TaskTimedOut.Terminal() {
		t.Error("task status Terminal wrong")
	}
	if TaskFailedWithTerminalError.Retriable() || !TaskFailed.Retriable() || !TaskTimedOut.Retriable() {
		t.Error("task status Retriable wrong")
	}
	if !WorkflowTerminated.Terminal() || WorkflowRunning.Terminal() || WorkflowPaused.Terminal() {
		t.Error("workflow status Terminal wrong")
	}
}

// FuzzOutputToMap checks the conversion on arbitrary JSON values decoded
// into interface{}: an object must round-trip, anything else must be refused.
func FuzzOutputToMap(f *testing.F) {
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`"s"`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"s":"<a&b> \u2028 \ufffd","n":[1.5e-7,1e21,-0.0,12345678901234567890],"o":{"z":null,"a":true}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v interface{}
		if err := json.Unmarshal(data, &v); err != nil {
			return
		}
		m, size, err := OutputToMap(v)
		_, isObj := v.(map[string]interface{})
		switch {
		case v == nil:
			if err != nil || len(m) != 0 {
				t.Fatalf("null: m=%v err=%v", m, err)
			}
		case isObj:
			if err != nil || m == nil || size <= 0 {
				t.Fatalf("object refused: %v", err)
			}
			// The size is what the output weighs as sent: its JSON.
			if b, _ := json.Marshal(v); size != len(b) {
				t.Fatalf("size %d, want %d (len of %s)", size, len(b), b)
			}
		default:
			if err == nil {
				t.Fatalf("non-object %T accepted", v)
			}
		}
	})
}
