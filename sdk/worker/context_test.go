package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-([89ab])[0-9a-f]{3}-[0-9a-f]{12}$`)

func TestIdempotencyKey(t *testing.T) {
	base := model.Task{TaskId: "t1", WorkflowInstanceId: "wf1", ReferenceTaskName: "charge", Iteration: 0}
	key := TaskIdempotencyKey(&base)
	m := uuidRE.FindStringSubmatch(key)
	if m == nil || m[1] != "5" {
		t.Fatalf("key %q is not a version 5 UUID", key)
	}

	// Same logical task: a callback (same id, more polls), a retry (new task
	// id, retry count up), a re-delivery to another worker.
	same := []model.Task{base, base, base}
	same[0].PollCount = 3
	same[1].TaskId, same[1].RetryCount, same[1].RetriedTaskId = "t2", 1, "t1"
	same[2].WorkerId, same[2].InputData = "other-host", map[string]interface{}{"x": 1}
	for i, tk := range same {
		if got := TaskIdempotencyKey(&tk); got != key {
			t.Errorf("case %d: key %q, want %q", i, got, key)
		}
	}

	// Different logical tasks.
	diff := map[string]model.Task{}
	d := base
	d.WorkflowInstanceId = "wf2"
	diff["other workflow"] = d
	d = base
	d.ReferenceTaskName = "refund"
	diff["other ref"] = d
	d = base
	d.Iteration = 1
	diff["next loop iteration"] = d
	// Fields that would collide if the parts were simply concatenated.
	diff["shifted boundary"] = model.Task{WorkflowInstanceId: "wf1c", ReferenceTaskName: "harge"}
	seen := map[string]string{key: "base"}
	for name, tk := range diff {
		got := TaskIdempotencyKey(&tk)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s and %s share key %s", name, prev, got)
		}
		seen[got] = name
	}
	// Many distinct tasks, no collision.
	keys := map[string]bool{}
	for wf := 0; wf < 50; wf++ {
		for ref := 0; ref < 20; ref++ {
			for it := 0; it < 3; it++ {
				k := TaskIdempotencyKey(&model.Task{WorkflowInstanceId: fmt.Sprint("wf", wf), ReferenceTaskName: fmt.Sprint("r", ref), Iteration: it})
				if keys[k] {
					t.Fatalf("collision at %d/%d/%d", wf, ref, it)
				}
				keys[k] = true
			}
		}
	}
}

func TestUUIDv5MatchesRFCExample(t *testing.T) {
	// RFC 9562 appendix A.4: namespace DNS, name "www.example.com".
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, want := uuidV5(dns, []byte("www.example.com")), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Fatalf("uuidV5 = %s, want %s", got, want)
	}
}

func TestContextAccessorsInHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		type seen struct {
			task                  *model.Task
			workerID, execID, key string
		}
		got := make(chan seen, 4)
		h := func(ctx context.Context, task *model.Task) (interface{}, error) {
			s := seen{task: TaskFromContext(ctx), workerID: WorkerIDFromContext(ctx), execID: ExecutionIDFromContext(ctx), key: IdempotencyKey(ctx)}
			LoggerFromContext(ctx).Info("hello from handler")
			got <- s
			if task.PollCount < 2 {
				r := model.NewTaskResult(task)
				r.Status = model.InProgressTask
				return r, nil
			}
			return nil, nil
		}
		if err := b.r.Start("ctx", h); err != nil {
			t.Fatal(err)
		}
		tk := makeTasks("ctx", "c", 1)[0]
		tk.PollCount = 1
		b.f.push("", tk)
		first := <-got
		tk.PollCount = 2 // the same task handed out again
		b.f.push("", tk)
		second := <-got
		if first.task == nil || first.task.TaskId != "c-0" || first.workerID != "test-worker" {
			t.Fatalf("accessors: %+v", first)
		}
		if !uuidRE.MatchString(first.execID) || first.execID == second.execID {
			t.Fatalf("execution ids %q and %q: want distinct UUIDs", first.execID, second.execID)
		}
		if first.key == "" || first.key != second.key || first.key != TaskIdempotencyKey(&tk) {
			t.Fatalf("idempotency keys %q, %q", first.key, second.key)
		}
		waitFor(t, 5*time.Minute, "log lines", func() bool { return b.linesAt(logrus.InfoLevel, "hello from handler") == 2 })
		for _, e := range b.logs.AllEntries() {
			if e.Message != "hello from handler" {
				continue
			}
			for k, want := range map[string]string{"taskType": "ctx", "taskId": "c-0", "workflowId": "wf-c", "workerId": "test-worker"} {
				if e.Data[k] != want {
					t.Errorf("log field %s = %v, want %s", k, e.Data[k], want)
				}
			}
			if id, _ := e.Data["executionId"].(string); id != first.execID && id != second.execID {
				t.Errorf("log executionId %v", e.Data["executionId"])
			}
		}
	})
}

func TestAccessorsOutsideHandler(t *testing.T) {
	ctx := context.Background()
	if TaskFromContext(ctx) != nil || WorkerIDFromContext(ctx) != "" || ExecutionIDFromContext(ctx) != "" || IdempotencyKey(ctx) != "" {
		t.Fatal("accessors on a plain context should return zero values")
	}
	LoggerFromContext(ctx).Info("goes nowhere") // must not panic
}

type order struct {
	ID     string  `json:"id"`
	Amount int     `json:"amount"`
	Items  []item  `json:"items"`
	Rate   float64 `json:"rate"`
}

type item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

type receipt struct {
	Total int    `json:"total"`
	Key   string `json:"key"`
}

func TestTyped(t *testing.T) {
	h := Typed(func(ctx context.Context, in order) (receipt, error) {
		if in.ID == "fail" {
			return receipt{}, errors.New("card declined")
		}
		total := in.Amount
		for _, it := range in.Items {
			total += it.Qty
		}
		return receipt{Total: total, Key: in.ID}, nil
	})
	tests := []struct {
		name       string
		input      map[string]interface{}
		wantStatus model.TaskResultStatus
		wantOut    map[string]interface{}
		wantReason string
	}{
		{
			name:       "decodes and encodes",
			input:      map[string]interface{}{"id": "o1", "amount": 10, "items": []interface{}{map[string]interface{}{"sku": "a", "qty": 2}}, "extra": true},
			wantStatus: model.CompletedTask,
			wantOut:    map[string]interface{}{"total": json.Number("12"), "key": "o1"},
		},
		{
			name:       "wrong type names the field",
			input:      map[string]interface{}{"id": "o1", "amount": "ten"},
			wantStatus: model.FailedWithTerminalErrorTask,
			wantReason: `task input field "amount": cannot decode a JSON string into int`,
		},
		{
			name:       "nested field",
			input:      map[string]interface{}{"items": []interface{}{map[string]interface{}{"qty": "x"}}},
			wantStatus: model.FailedWithTerminalErrorTask,
			wantReason: `field "items.qty"`,
		},
		{
			name:       "handler error stays retryable",
			input:      map[string]interface{}{"id": "fail"},
			wantStatus: model.FailedTask,
			wantReason: "card declined",
		},
		{
			name:       "empty input",
			input:      nil,
			wantStatus: model.CompletedTask,
			wantOut:    map[string]interface{}{"total": json.Number("0"), "key": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := &model.Task{TaskId: "t", WorkflowInstanceId: "w", InputData: tt.input}
			out, err := h(context.Background(), task)
			res, _ := resultOf(task, "me", out, err)
			if res.Status != tt.wantStatus {
				t.Fatalf("status %s, want %s (reason %q)", res.Status, tt.wantStatus, res.ReasonForIncompletion)
			}
			if tt.wantReason != "" && !strings.Contains(res.ReasonForIncompletion, tt.wantReason) {
				t.Fatalf("reason %q, want it to contain %q", res.ReasonForIncompletion, tt.wantReason)
			}
			if tt.wantOut != nil && fmt.Sprint(res.OutputData) != fmt.Sprint(tt.wantOut) {
				t.Fatalf("output %v, want %v", res.OutputData, tt.wantOut)
			}
		})
	}
}

func TestTypedMapInputIsPassedThrough(t *testing.T) {
	in := map[string]interface{}{"a": 1}
	h := Typed(func(_ context.Context, m map[string]interface{}) (map[string]interface{}, error) { return m, nil })
	out, err := h(context.Background(), &model.Task{InputData: in})
	if err != nil || out.(map[string]interface{})["a"] != 1 {
		t.Fatalf("got %v, %v", out, err)
	}
}
