package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/baton-go/baton/sdk/model"
)

type resultSample struct {
	Keys    []string
	Message string
	Value   float64
}

type resultNestedItem struct {
	Price float64 `json:"price"`
}

type resultNested struct {
	Name  string             `json:"name"`
	Items []resultNestedItem `json:"items"`
}

func TestResultOf(t *testing.T) {
	task := &model.Task{TaskId: "t1", WorkflowInstanceId: "w1", WorkerId: "poller"}
	custom := model.NewTaskResult(task)
	custom.Status = model.InProgressTask
	custom.CallbackAfterSeconds = 60
	custom.OutputData = map[string]interface{}{"progress": 1}

	tests := []struct {
		name       string
		output     interface{}
		err        error
		wantStatus model.TaskResultStatus
		wantOut    map[string]interface{}
		wantReason string // substring
		wantCB     int64
	}{
		{name: "nil output completes", output: nil, wantStatus: model.CompletedTask, wantOut: map[string]interface{}{}},
		{name: "struct output", output: resultSample{Keys: []string{"a"}, Message: "hi", Value: 1.5}, wantStatus: model.CompletedTask,
			wantOut: map[string]interface{}{"Keys": []interface{}{"a"}, "Message": "hi", "Value": json.Number("1.5")}},
		{name: "pointer to struct", output: &resultSample{Message: "p"}, wantStatus: model.CompletedTask,
			wantOut: map[string]interface{}{"Keys": nil, "Message": "p", "Value": json.Number("0")}},
		{name: "nil pointer is empty output", output: (*resultSample)(nil), wantStatus: model.CompletedTask, wantOut: map[string]interface{}{}},
		{name: "map output kept", output: map[string]interface{}{"n": 1}, wantStatus: model.CompletedTask, wantOut: map[string]interface{}{"n": 1}},
		{name: "typed map", output: map[string]int{"n": 2}, wantStatus: model.CompletedTask, wantOut: map[string]interface{}{"n": json.Number("2")}},
		{name: "slice is not an object", output: []int{1, 2}, wantStatus: model.FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "encodes to a JSON array, want a JSON object"},
		{name: "string is not an object", output: "done", wantStatus: model.FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "a JSON string"},
		{name: "number is not an object", output: 42, wantStatus: model.FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "a JSON number"},
		{name: "channel cannot be encoded", output: map[string]interface{}{"c": make(chan int)}, wantStatus: model.FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: `task output field "c" (in a map[string]interface {}) cannot be encoded as JSON: json: unsupported type: chan int`},
		{name: "nested field named", output: resultNested{Items: []resultNestedItem{{Price: 1}, {Price: math.Inf(1)}}}, wantStatus: model.FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: `field "items[1].price"`},
		{name: "NaN cannot be encoded", output: map[string]float64{"x": math.NaN()}, wantStatus: model.FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: `field "x"`},
		{name: "error fails", err: errors.New("boom"), wantStatus: model.FailedTask, wantOut: map[string]interface{}{}, wantReason: "boom"},
		{name: "error wins over output", output: map[string]interface{}{"partial": true}, err: errors.New("late failure"), wantStatus: model.FailedTask, wantOut: map[string]interface{}{"partial": true}, wantReason: "late failure"},
		{name: "terminal error", err: model.NewNonRetryableError(errors.New("bad input")), wantStatus: model.FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "bad input"},
		{name: "wrapped terminal error", err: fmt.Errorf("step 2: %w", model.NewNonRetryableError(errors.New("gone"))), wantStatus: model.FailedWithTerminalErrorTask, wantOut: map[string]interface{}{}, wantReason: "step 2: gone"},
		{name: "error with unserialisable output keeps the error", output: []int{1}, err: errors.New("x"), wantStatus: model.FailedTask, wantOut: map[string]interface{}{}, wantReason: "x"},
		{name: "task result pointer sent as is", output: custom, wantStatus: model.InProgressTask, wantOut: map[string]interface{}{"progress": 1}, wantCB: 60},
		{name: "task result value", output: model.TaskResult{Status: model.FailedTask, ReasonForIncompletion: "mine"}, wantStatus: model.FailedTask, wantOut: map[string]interface{}{}, wantReason: "mine"},
		{name: "task result without status completes", output: &model.TaskResult{OutputData: map[string]interface{}{"a": "b"}}, wantStatus: model.CompletedTask, wantOut: map[string]interface{}{"a": "b"}},
		{name: "task result with invalid status", output: &model.TaskResult{Status: "SCHEDULED"}, wantStatus: model.FailedTask, wantOut: map[string]interface{}{}, wantReason: `invalid status "SCHEDULED"`},
		{name: "nil task result pointer", output: (*model.TaskResult)(nil), wantStatus: model.CompletedTask, wantOut: map[string]interface{}{}},
		{name: "long reason truncated", err: errors.New(strings.Repeat("é", 400)), wantStatus: model.FailedTask, wantOut: map[string]interface{}{}, wantReason: "é"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, size := resultOf(task, "me", tc.output, tc.err)
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
			if len(res.ReasonForIncompletion) > model.MaxReasonLength {
				t.Errorf("reason has %d bytes, more than %d", len(res.ReasonForIncompletion), model.MaxReasonLength)
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
	task := &model.Task{TaskId: "t", WorkflowInstanceId: "w"}
	res, _ := resultOf(task, "runner", &model.TaskResult{WorkerId: "own"}, nil)
	if res.WorkerId != "own" {
		t.Fatalf("worker id = %q, want own", res.WorkerId)
	}
	res, _ = resultOf(task, "runner", nil, nil)
	if res.WorkerId != "runner" {
		t.Fatalf("worker id = %q, want runner", res.WorkerId)
	}
}

func TestResultOfDoesNotMutateReturnedResult(t *testing.T) {
	task := &model.Task{TaskId: "t", WorkflowInstanceId: "w"}
	mine := &model.TaskResult{Status: model.InProgressTask}
	_, _ = resultOf(task, "runner", mine, nil)
	if mine.TaskId != "" || mine.WorkerId != "" || mine.OutputData != nil {
		t.Fatalf("handler's result was changed: %+v", mine)
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("abc", 5); got != "abc" {
		t.Errorf("Truncate short = %q", got)
	}
	if got := truncate("aé", 2); got != "a" {
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
		var tasks []model.Task
		if err := json.Unmarshal(data, &tasks); err != nil {
			return
		}
		for i := range tasks {
			res, _ := resultOf(&tasks[i], "w", tasks[i].InputData, nil)
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
