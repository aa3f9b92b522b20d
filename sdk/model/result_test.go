package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

type sampleOutput struct {
	Keys    []string
	Message string
	Value   float64
}

func TestResultOf(t *testing.T) {
	task := &Task{TaskId: "t1", WorkflowInstanceId: "w1", WorkerId: "poller"}
	custom := NewTaskResult(task)
	custom.Status = InProgressTask
	custom.CallbackAfterSeconds = 60
	custom.OutputData = map[string]interface{}{"progress": 1}

	tests := []struct {
		name       string
		output     interface{}
		err        error
		wantStatus TaskResultStatus
		wantOut    map[string]interface{}
		wantReason string // substring
		wantCB     int64
	}{
		{name: "nil output completes", output: nil, wantStatus: CompletedTask, wantOut: map[string]interface{}{}},
		{name: "struct output", output: sampleOutput{Keys: []string{"a"}, Message: "hi", Value: 1.5}, wantStatus: CompletedTask,
			wantOut: map[string]interface{}{"Keys": []interface{}{"a"}, "Message": "hi", "Value": json.Number("1.5")}},
		{name: "pointer to struct", output: &sampleOutput{Message: "p"}, wantStatus: CompletedTask,
			wantOut: map[string]interface{}{"Keys": nil, "Message": "p", "Value": json.Number("0")}},
		{name: "nil pointer is empty output", output: (*sampleOutput)(nil), wantStatus: CompletedTask, wantOut: map[string]interface{}{}},
		{name: "map output kept", output: map[string]interface{}{"n": 1}, wantStatus: CompletedTask, wantOut: map[string]interface{}{"n": 1}},
		{name: "typed map", output: map[string]int{"n": 2}, wantStatus: CompletedTask, wantOut: map[string]interface{}{"n": json.Number("2")}},
		{name: "slice is not an object", output: []int{1, 2}, wantStatus: FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "encodes to a JSON array, want a JSON object"},
		{name: "string is not an object", output: "done", wantStatus: FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "a JSON string"},
		{name: "number is not an object", output: 42, wantStatus: FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "a JSON number"},
		{name: "channel cannot be encoded", output: map[string]interface{}{"c": make(chan int)}, wantStatus: FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: `task output field "c" (in a map[string]interface {}) cannot be encoded as JSON: json: unsupported type: chan int`},
		{name: "nested field named", output: nestedOutput{Items: []nestedItem{{Price: 1}, {Price: math.Inf(1)}}}, wantStatus: FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: `field "items[1].price"`},
		{name: "NaN cannot be encoded", output: map[string]float64{"x": math.NaN()}, wantStatus: FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: `field "x"`},
		{name: "error fails", err: errors.New("boom"), wantStatus: FailedTask, wantOut: map[string]interface{}{}, wantReason: "boom"},
		{name: "error wins over output", output: map[string]interface{}{"partial": true}, err: errors.New("late failure"), wantStatus: FailedTask, wantOut: map[string]interface{}{"partial": true}, wantReason: "late failure"},
		{name: "terminal error", err: NewNonRetryableError(errors.New("bad input")), wantStatus: FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "bad input"},
		{name: "wrapped terminal error", err: fmt.Errorf("step 2: %w", NewNonRetryableError(errors.New("gone"))), wantStatus: FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "step 2: gone"},
		{name: "error with unserialisable output keeps the error", output: []int{1}, err: errors.New("x"), wantStatus: FailedTask, wantOut: map[string]interface{}{}, wantReason: "x"},
		{name: "task result pointer sent as is", output: custom, wantStatus: InProgressTask, wantOut: map[string]interface{}{"progress": 1}, wantCB: 60},
		{name: "task result value", output: TaskResult{Status: FailedTask, ReasonForIncompletion: "mine"}, wantStatus: FailedTask, wantOut: map[string]interface{}{}, wantReason: "mine"},
		{name: "task result without status completes", output: &TaskResult{OutputData: map[string]interface{}{"a": "b"}}, wantStatus: CompletedTask, wantOut: map[string]interface{}{"a": "b"}},
		{name: "task result with invalid status", output: &TaskResult{Status: "SCHEDULED"}, wantStatus: FailedTask, wantOut: map[string]interface{}{}, wantReason: `invalid status "SCHEDULED"`},
		{name: "nil task result pointer", output: (*TaskResult)(nil), wantStatus: CompletedTask, wantOut: map[string]interface{}{}},
		{name: "long reason truncated", err: errors.New(strings.Repeat("é", 400)), wantStatus: FailedTask, wantOut: map[string]interface{}{}, wantReason: "é"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, size := ResultOf(task, "me", tc.output, tc.err)
			if res.Status != tc.wantStatus {
				t.Fatalf("status = %q, want %q (reason %q)", res.Status, tc.wantStatus, res.ReasonForIncompletion)
			}
			if res.TaskId != "t1" || res.WorkflowInstanceId != "w1" {
				t.Errorf("ids = %q/%q, want t1/w1", res.TaskId, res.WorkflowInstanceId)
			}
			if res.WorkerId == "" {
				t.Errorf("worker id empty")
			}
			if !strings.Contains(res.ReasonForIncompletion, tc.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", res.ReasonForIncompletion, tc.wantReason)
			}
			if tc.wantReason == "" && res.ReasonForIncompletion != "" {
				t.Errorf("unexpected reason %q", res.ReasonForIncompletion)
			}
			if len(res.ReasonForIncompletion) > MaxReasonLength {
				t.Errorf("reason has %d bytes, more than %d", len(res.ReasonForIncompletion), MaxReasonLength)
			}
			if res.CallbackAfterSeconds != tc.wantCB {
				t.Errorf("callbackAfterSeconds = %d, want %d", res.CallbackAfterSeconds, tc.wantCB)
			}
			got, _ := json.Marshal(res.OutputData)
			want, _ := json.Marshal(tc.wantOut)
			if string(got) != string(want) {
				t.Errorf("output = %s, want %s", got, want)
			}
			// The reported size is the size of what will be sent.
			if size != len(got) {
				t.Errorf("size = %d, encoded output has %d bytes", size, len(got))
			}
		})
	}
}

func TestResultOfKeepsWorkerIDOfResult(t *testing.T) {
	task := &Task{TaskId: "t", WorkflowInstanceId: "w"}
	res, _ := ResultOf(task, "runner", &TaskResult{WorkerId: "own"}, nil)
	if res.WorkerId != "own" {
		t.Fatalf("worker id = %q, want own", res.WorkerId)
	}
	res, _ = ResultOf(task, "runner", nil, nil)
	if res.WorkerId != "runner" {
		t.Fatalf("worker id = %q, want runner", res.WorkerId)
	}
}

func TestResultOfDoesNotMutateReturnedResult(t *testing.T) {
	task := &Task{TaskId: "t", WorkflowInstanceId: "w"}
	mine := &TaskResult{Status: InProgressTask}
	_, _ = ResultOf(task, "runner", mine, nil)
	if mine.TaskId != "" || mine.WorkerId != "" || mine.OutputData != nil {
		t.Fatalf("handler's result was changed: %+v", mine)
	}
}

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

func TestTruncate(t *testing.T) {
	if got := Truncate("abc", 5); got != "abc" {
		t.Errorf("Truncate short = %q", got)
	}
	if got := Truncate("aé", 2); got != "a" {
		t.Errorf("Truncate split rune = %q, want a", got)
	}
}

// FuzzDecodeTaskBatch feeds arbitrary bytes to the decoding of a batch poll
// answer and then to the result conversion: neither may panic, and a decoded
// task must always yield a result that encodes to JSON with an object output.
func FuzzDecodeTaskBatch(f *testing.F) {
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"taskId":"1","workflowInstanceId":"w","inputData":{"a":[1,{"b":null}]}}]`))
	f.Add([]byte(`[{"taskId":1}]`))
	f.Add([]byte(`{"not":"a list"}`))
	f.Add([]byte(`[{"outputData":{"x":1e400}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tasks []Task
		if err := json.Unmarshal(data, &tasks); err != nil {
			return
		}
		for i := range tasks {
			res, _ := ResultOf(&tasks[i], "w", tasks[i].InputData, nil)
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatalf("result of decoded task does not encode: %v", err)
			}
			var back map[string]interface{}
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("encoded result is not an object: %v", err)
			}
			if _, ok := back["outputData"].(map[string]interface{}); !ok {
				t.Fatalf("outputData is not an object in %s", b)
			}
		}
	})
}

// FuzzOutputToMap checks the conversion on arbitrary JSON values decoded
// into interface{}: an object must round-trip, anything else must be refused.
func FuzzOutputToMap(f *testing.F) {
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`"s"`))
	f.Add([]byte(`null`))
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
		default:
			if err == nil {
				t.Fatalf("non-object %T accepted", v)
			}
		}
	})
}

type nestedItem struct {
	Price float64 `json:"price"`
}

type nestedOutput struct {
	Name  string       `json:"name"`
	Items []nestedItem `json:"items"`
}
