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
	f.Fuzz(func(t *testing.T, wf, task, reason string, cb int64, worker, status, output, logLine string, lease bool, path, sub string) {
		r := &model.TaskResult{WorkflowInstanceId: wf, TaskId: task, ReasonForIncompletion: reason, CallbackAfterSeconds: cb,
			WorkerId: worker, Status: model.TaskResultStatus(status), ExtendLease: lease, ExternalOutputPayloadStoragePath: path, SubWorkflowId: sub}
		var out map[string]interface{}
		if json.Unmarshal([]byte(output), &out) == nil {
			r.OutputData = out
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
