package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/baton-go/baton/sdk/model"
)

// testdata/tasks holds two batch poll answers of the dev server
// (sdk/conductortest at 131052b), 100 tasks each, gzipped: trivial100 is
// what test/bench's trivial-handler scenarios poll (a task without a
// registered definition or inputs, about 1.6 KB of JSON), order100 the task
// of an "order" workflow with a registered definition and an order as input
// (ids, a customer with an address, two items, an amount, a flag, a null),
// about 2.7 KB. The seeds in testdata/fuzz/FuzzTaskDecoders are answers of
// the same server (dev-*: a batch whose inputs hold every JSON kind,
// nesting, unicode and escapes; an empty batch; a single poll; an update-v2
// answer; a task polled again after an IN_PROGRESS update) and variants of
// them that another server or a proxy could send (var-*, syn-*, deep-*:
// exact big integers, keys in other cases, duplicate keys, unknown fields,
// nulls everywhere, invalid UTF-8, type mismatches, syntax errors, nesting
// around the depth limit).

func readTasksFile(tb testing.TB, name string) []byte {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "tasks", name+".json.gz"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzTaskDecoders is the differential test of decodeTasks: for any input,
// go-json and encoding/json accept the same answers (as []model.Task and as
// model.Task) and decode them to the same values, and the SDK's path
// (unmarshalTasks) returns exactly what encoding/json returns, value or
// error.
func FuzzTaskDecoders(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		compareTaskDecoders[[]model.Task](t, data)
		compareTaskDecoders[model.Task](t, data)
	})
}

// otherAnswer is decoded between a decoding and its check, so that buffers
// the decoder keeps in pools are reused: nothing decoded before may refer
// to them.
const otherAnswer = `[{"taskId":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz","inputData":{"zzzzzzzzzz":"zzzzzzzzzzzzzzzzzzzz"}},` +
	`{"taskId":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9","workflowTask":{"name":"zzzzzzzzzzzzzzzzzzzz"}}]`

func compareTaskDecoders[T taskAnswer](t *testing.T, data []byte) {
	t.Helper()
	var want T
	stdErr := json.Unmarshal(data, &want)

	// go-json alone, without the fallback (and without recover: a panic is
	// a finding too). Refusing what encoding/json accepts would only cost
	// the fallback's time, but it is a difference worth knowing about.
	var fast T
	fastErr := gojson.Unmarshal(data, &fast)
	if (fastErr == nil) != (stdErr == nil) {
		t.Fatalf("%T: acceptance differs: go-json err = %v, encoding/json err = %v, input %q", want, fastErr, stdErr, data)
	}
	if stdErr == nil {
		sameDecoded(t, "go-json", fast, want, data)
	}

	// The SDK's path, on a copy of the input that is overwritten afterwards:
	// the values must not refer to the input or to the decoder's buffers.
	in := bytes.Clone(data)
	var got T
	err := unmarshalTasks(in, &got)
	var other []model.Task
	_ = unmarshalTasks([]byte(otherAnswer), &other)
	for i := range in {
		in[i] = 'z'
	}
	switch {
	case stdErr == nil && err != nil:
		t.Fatalf("%T: unmarshalTasks refused what encoding/json accepts: %v, input %q", want, err, data)
	case stdErr != nil && err == nil:
		t.Fatalf("%T: unmarshalTasks accepted what encoding/json refuses (%v), input %q", want, stdErr, data)
	case stdErr != nil && err.Error() != stdErr.Error():
		t.Fatalf("%T: error %q, encoding/json's is %q", want, err, stdErr)
	case stdErr == nil:
		sameDecoded(t, "unmarshalTasks", got, want, data)
	}
}

// sameDecoded fails unless got and want are deeply equal and encode to the
// same JSON (which also tells -0 from 0).
func sameDecoded[T any](t *testing.T, who string, got, want T, data []byte) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s decoded %T differently from encoding/json\ngot  %#v\nwant %#v\ninput %q", who, want, got, want, data)
	}
	g, errG := json.Marshal(got)
	w, errW := json.Marshal(want)
	if errG != nil || errW != nil || !bytes.Equal(g, w) {
		t.Fatalf("%s: %T encodes differently from encoding/json's (%v, %v)\ngot  %s\nwant %s\ninput %q", who, want, errG, errW, g, w, data)
	}
}

// TestTaskDecodersAgreeOnBatches runs the differential check on the
// benchmark's batches (the fuzz seeds run as subtests of FuzzTaskDecoders).
func TestTaskDecodersAgreeOnBatches(t *testing.T) {
	for _, name := range []string{"trivial100", "order100"} {
		t.Run(name, func(t *testing.T) {
			data := readTasksFile(t, name)
			compareTaskDecoders[[]model.Task](t, data)
			var tasks []model.Task
			if err := unmarshalTasks(data, &tasks); err != nil || len(tasks) != 100 {
				t.Fatalf("%d tasks, %v", len(tasks), err)
			}
		})
	}
}

// TestDecodeTasksSemantics spells out what handlers rely on, through the
// client's calls: numbers in maps are float64, keys match without regard to
// case, unknown fields are skipped, null leaves fields alone, and a refused
// answer that is not JSON fails with ErrDecode and encoding/json's own
// message (a task that is JSON but not a task: TestPollAnswerWithOneUndecodableTask).
func TestDecodeTasksSemantics(t *testing.T) {
	ctx := context.Background()
	body := `[{"TASKID":"t1","workflowInstanceId":"w","status":"IN_PROGRESS","newField":{"x":[1]},
		"inputData":{"n":12345678901234567890,"f":0.5,"s":"\u00e9","o":{"k":[1,"a",null,true]},"z":null},
		"retryCount":null,"workflowTask":{"name":"a","retryCount":null,"taskDefinition":{"name":"a","inputKeys":null}}},null]`
	c := fuzzClient(t, 200, "application/json", []byte(body))
	tasks, err := c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || !reflect.DeepEqual(tasks[1], model.Task{}) {
		t.Fatalf("want the task and a zero task for null, got %+v", tasks)
	}
	in := tasks[0].InputData
	if tasks[0].TaskId != "t1" || tasks[0].Status != model.TaskInProgress {
		t.Errorf("TASKID and status: %q %q", tasks[0].TaskId, tasks[0].Status)
	}
	if n, ok := in["n"].(float64); !ok || n != 12345678901234567890 {
		t.Errorf("inputData.n = %#v, want float64", in["n"])
	}
	if f, ok := in["f"].(float64); !ok || f != 0.5 {
		t.Errorf("inputData.f = %#v, want float64", in["f"])
	}
	if !reflect.DeepEqual(in["o"], map[string]interface{}{"k": []interface{}{float64(1), "a", nil, true}}) || in["s"] != "é" {
		t.Errorf("inputData = %#v", in)
	}
	if v, ok := in["z"]; !ok || v != nil {
		t.Errorf("inputData.z = %#v, %v; want a nil entry", v, ok)
	}
	if wt := tasks[0].WorkflowTask; wt == nil || wt.RetryCount != nil || wt.TaskDefinition == nil || wt.TaskDefinition.InputKeys != nil {
		t.Errorf("workflowTask = %+v", wt)
	}

	for _, tc := range []struct {
		name, body string
		call       func(*APIClient) error
		route      string
	}{
		{"batch", `[{"taskId":1},]`, func(c *APIClient) error {
			_, err := c.Tasks().BatchPoll(ctx, "t", PollOptions{Count: 1})
			return err
		}, "GET /api/tasks/poll/batch/t"},
		{"poll", `{"taskId":"x",}`, func(c *APIClient) error { _, err := c.Tasks().Poll(ctx, "t", "w", ""); return err }, "GET /api/tasks/poll/t"},
		{"update-v2", `{"retryCount":}`, func(c *APIClient) error {
			_, err := c.Tasks().UpdateTaskV2(ctx, &model.TaskResult{TaskId: "x", WorkflowInstanceId: "w", Status: model.CompletedTask})
			return err
		}, "POST /api/tasks/update-v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(fuzzClient(t, 200, "application/json;charset=UTF-8", []byte(tc.body)))
			var v interface{} = &model.Task{}
			if strings.HasPrefix(tc.body, "[") {
				v = &[]model.Task{}
			}
			stdErr := json.Unmarshal([]byte(tc.body), v)
			want := fmt.Sprintf("%v: %s (content type %q): %v", ErrDecode, tc.route, "application/json;charset=UTF-8", stdErr)
			if !errors.Is(err, ErrDecode) || err.Error() != want {
				t.Fatalf("err = %v\nwant %s", err, want)
			}
		})
	}
}

// BenchmarkTaskDecoders decodes the dev server's batches of 100 tasks, and
// one task of each (what an update-v2 answer holds), with encoding/json and
// with the SDK's path (go-json), side by side.
func BenchmarkTaskDecoders(b *testing.B) {
	for _, name := range []string{"trivial100", "order100"} {
		batch := readTasksFile(b, name)
		var all []json.RawMessage
		if err := json.Unmarshal(batch, &all); err != nil || len(all) != 100 {
			b.Fatal(len(all), err)
		}
		one := []byte(all[0])
		run := func(sub string, data []byte, decode func([]byte) error) {
			b.Run(name+"/"+sub, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := decode(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		run("batch/encoding-json", batch, func(d []byte) error { var v []model.Task; return json.Unmarshal(d, &v) })
		run("batch/sdk", batch, func(d []byte) error { var v []model.Task; return unmarshalTasks(d, &v) })
		run("task/encoding-json", one, func(d []byte) error { var v model.Task; return json.Unmarshal(d, &v) })
		run("task/sdk", one, func(d []byte) error { var v model.Task; return unmarshalTasks(d, &v) })
	}
}

// TestPollAnswerWithOneUndecodableTask: Jackson keeps a 400-digit integer
// as a BigInteger, and Go's float64 cannot hold it. Such a task used to
// fail the decoding of the whole poll answer, and with it every task the
// server had just handed out. Now the others are returned and the bad one
// is named, with the field, for the caller to fail.
func TestPollAnswerWithOneUndecodableTask(t *testing.T) {
	ctx := context.Background()
	big := strings.Repeat("7", 400)
	body := `[{"taskId":"t1","workflowInstanceId":"w1","taskType":"t","inputData":{"i":1}},
		{"taskId":"t2","workflowInstanceId":"w2","taskType":"t","inputData":{"order":{"ids":[1,` + big + `]}}},
		{"taskId":"t3","workflowInstanceId":"w3","taskType":"t","retryCount":"three"},
		{"taskId":"t4","workflowInstanceId":"w4","taskType":"t"}]`
	tasks, err := fuzzClient(t, 200, "application/json", []byte(body)).Tasks().BatchPoll(ctx, "t", PollOptions{Count: 4})
	var tde *TaskDecodeError
	if !errors.As(err, &tde) || !errors.Is(err, ErrDecode) {
		t.Fatalf("err = %v, want a *TaskDecodeError", err)
	}
	if len(tasks) != 2 || tasks[0].TaskId != "t1" || tasks[1].TaskId != "t4" || tasks[0].InputData["i"] != float64(1) {
		t.Fatalf("decodable tasks = %+v, want t1 and t4", tasks)
	}
	if len(tde.Tasks) != 2 {
		t.Fatalf("undecodable = %+v, want t2 and t3", tde.Tasks)
	}
	b2, b3 := tde.Tasks[0], tde.Tasks[1]
	if b2.TaskId != "t2" || b2.WorkflowInstanceId != "w2" || b2.TaskType != "t" || b2.Field != "inputData.order.ids[1]" ||
		!strings.Contains(b2.Reason, "inputData.order.ids[1]") || !strings.Contains(b2.Reason, "400 characters") {
		t.Errorf("big number: %+v", b2)
	}
	if len(b2.Reason) > 200 {
		t.Errorf("the reason repeats the huge value: %d bytes", len(b2.Reason))
	}
	if b3.TaskId != "t3" || b3.Field != "retryCount" || !strings.Contains(b3.Reason, "retryCount") {
		t.Errorf("bad field: %+v", b3)
	}

	// One task: Poll and update-v2 name it the same way.
	one := `{"taskId":"t5","workflowInstanceId":"w5","inputData":{"n":` + big + `}}`
	c := fuzzClient(t, 200, "application/json", []byte(one))
	if p, err := c.Tasks().Poll(ctx, "t", "w", ""); p != nil || !errors.As(err, &tde) || tde.Tasks[0].TaskId != "t5" || tde.Tasks[0].Field != "inputData.n" {
		t.Errorf("Poll: %v, %v", p, err)
	}
	next, err := c.Tasks().UpdateTaskV2(ctx, &model.TaskResult{TaskId: "x", WorkflowInstanceId: "w", Status: model.CompletedTask})
	if next != nil || !errors.As(err, &tde) || tde.Tasks[0].WorkflowInstanceId != "w5" {
		t.Errorf("UpdateTaskV2: %v, %v", next, err)
	}
}
