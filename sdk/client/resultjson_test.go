package client

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/baton-go/baton/sdk/model"
)

// FuzzResultEncoding holds the hand-written result encoder to
// json.Marshal: for any strings in any field, the same bytes, and the same
// error for output json.Marshal refuses.
func FuzzResultEncoding(f *testing.F) {
	f.Add("wf-1", "task-1", "", int64(0), "worker", "COMPLETED", `{"ok":true}`, "", false, "", "")
	f.Add("w\"\\<>&", "t\n\r\t\b\f\x00\x1f\x7f", "boom\u2028\u2029", int64(-30), "wé😀", "FAILED", `{"n":1.5e3,"l":[1,"a",null,{"k":[]}],"h":"<a&b>"}`, "line", true, "path/x", "sub")
	f.Add("\xff\xfe", "t\xc3", "\xed\xa0\x80", int64(math.MaxInt64), "", "", `null`, "log\x01", false, "", "")
	f.Add("w", "t", "x", int64(3), "w", "COMPLETED", `{"a":1e21,"b":1e-7,"c":-0,"d":5e-324,"e":123456789012345678901234,"f":0.000001,"g":[[[]]],"h":{}}`, "", false, "", "")
	f.Fuzz(func(t *testing.T, wf, task, reason string, cb int64, worker, status, output, logLine string, lease bool, path, sub string) {
		r := &model.TaskResult{WorkflowInstanceId: wf, TaskId: task, ReasonForIncompletion: reason, CallbackAfterSeconds: cb,
			WorkerId: worker, Status: model.TaskResultStatus(status), ExtendLease: lease, ExternalOutputPayloadStoragePath: path, SubWorkflowId: sub}
		var out map[string]interface{}
		if json.Unmarshal([]byte(output), &out) == nil {
			r.OutputData = out
			if out != nil {
				// Go values a handler returns beside decoded JSON: ints,
				// and (on odd lengths) a type only json.Marshal encodes.
				out["~int"], out["~int64"], out["~float"] = int(cb), cb, float64(cb)/7
				if len(reason)%2 == 1 {
					out["~other"] = []string{reason}
				}
			}
		}
		if logLine != "" {
			r.Logs = []model.TaskExecLog{{Log: logLine, TaskId: task, CreatedTime: cb}}
		}
		want, wantErr := json.Marshal(r)
		got, gotErr := appendResult(nil, r)
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
			t.Fatalf("errors differ: json.Marshal %v, ours %v", wantErr, gotErr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("result %+v\nours %s\njson %s", r, got, want)
		}
	})
}

// TestResultEncodingRefusesWhatJSONRefuses: output json.Marshal cannot
// encode fails the update with json.Marshal's error, as before.
func TestResultEncodingRefusesWhatJSONRefuses(t *testing.T) {
	for _, v := range []interface{}{make(chan int), math.NaN(), func() {}} {
		r := &model.TaskResult{WorkflowInstanceId: "w", TaskId: "t", Status: model.CompletedTask, OutputData: map[string]interface{}{"x": v}}
		_, wantErr := json.Marshal(r)
		_, err := resultBody(r)
		if wantErr == nil || err == nil || !bytes.Contains([]byte(err.Error()), []byte(wantErr.Error())) {
			t.Fatalf("%T: err = %v, json.Marshal's %v", v, err, wantErr)
		}
	}
}

// TestPlainOutputEncodesAsJSONMarshal covers the number formats and value
// kinds of the fast path against json.Marshal, and the fallbacks.
func TestPlainOutputEncodesAsJSONMarshal(t *testing.T) {
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.0 / 3, 100, 1e20, 1e21, 1.5e21, 1e-6, 9.99e-7, 1e-7, -1e-7, 1e-10, 5e-324,
		math.MaxFloat64, 1 << 53, 1<<53 + 1, 123456.789, 1e100, 2.5e-300}
	out := map[string]interface{}{}
	for i, f := range floats {
		out[string(rune('a'+i))] = f
	}
	out["ints"] = []interface{}{0, -1, math.MaxInt64, int64(math.MinInt64), int(7)}
	out["nest"] = map[string]interface{}{"z": nil, "y": []interface{}{}, "x": map[string]interface{}{}, "<&>": "\u2028"}
	out["nilmap"] = map[string]interface{}(nil)
	out["nilslice"] = []interface{}(nil)
	cyclic := map[string]interface{}{}
	cyclic["self"] = cyclic
	for _, o := range []map[string]interface{}{out, {"fallback": []int{1, 2}}, {"nan": math.NaN()}, {"inf": math.Inf(1)}, {"cyclic": cyclic}, {}} {
		r := &model.TaskResult{WorkflowInstanceId: "w", TaskId: "t", Status: model.CompletedTask, OutputData: o}
		want, wantErr := json.Marshal(r)
		got, err := appendResult(nil, r)
		if (wantErr == nil) != (err == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("errors: json.Marshal %v, ours %v", wantErr, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ours %s\njson %s", got, want)
		}
	}
}
