package fastjson

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/baton-go/baton/sdk/model"
)

// FuzzTaskResult checks that task results (the update bodies the dev
// server decodes) decode as encoding/json decodes them: the same bodies are
// accepted, into deeply equal results, and a refused body gets
// encoding/json's error text (the dev server returns it in its 500 answer).
func FuzzTaskResult(f *testing.F) {
	for _, s := range []string{
		`{"workflowInstanceId":"w","taskId":"t","status":"COMPLETED","workerId":"x","outputData":{"ok":true}}`,
		`{"workflowInstanceId":"w","taskId":"t","status":"IN_PROGRESS","callbackAfterSeconds":30,"outputData":{"n":1.5e3,"big":12345678901234567890,"neg":-0,"s":"\u00e9\ud83d\ude00","l":[1,"a",null,{"k":[]}]}}`,
		`{"workflowInstanceId":"w","taskId":"t","status":"FAILED","reasonForIncompletion":"boom","logs":[{"log":"line","createdTime":1}]}`,
		`{"WORKFLOWINSTANCEID":"w","TaskId":"t","status":"COMPLETED","outputData":null,"logs":null,"extendLease":true}`,
		`{"workflowInstanceId":"w","taskId":"t","taskId":"u","unknown":{"deep":[1,2]},"status":"COMPLETED"}`,
		`{"workflowInstanceId":1,"taskId":"t"}`,
		`{"workflowInstanceId":"w","callbackAfterSeconds":"10"}`,
		`{"workflowInstanceId":"w","callbackAfterSeconds":1.5}`,
		`{"workflowInstanceId":"w\xff","taskId":"t"}`,
		`{"outputData":{"a":1,}}`,
		`[]`, `null`, `"x"`, `{`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want, got model.TaskResult
		wantErr := json.Unmarshal(body, &want)
		gotErr := Unmarshal(append([]byte(nil), body...), &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("body %q: encoding/json error %v, ours %v", body, wantErr, gotErr)
		}
		if wantErr != nil {
			if wantErr.Error() != gotErr.Error() {
				t.Fatalf("body %q: error %q, want %q", body, gotErr, wantErr)
			}
			return
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("body %q:\n got %#v\nwant %#v", body, got, want)
		}
	})
}
