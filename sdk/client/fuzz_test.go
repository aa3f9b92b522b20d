package client

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// FuzzDecodeAnswers feeds arbitrary bodies to every decoder of server
// answers: none may panic, and a decode failure must be ErrDecode.
func FuzzDecodeAnswers(f *testing.F) {
	for _, s := range []string{`[]`, `[{"taskId":"1","inputData":{"a":1}}]`, `{"taskId":"x"}`, `"id"`, `{"workflowId":"w","tasks":[{}]}`,
		`{"a":1}`, `[{"queueName":"q","lastPollTime":1}]`, `{"status":404,"message":"No such task"}`, `{"error":"EXPIRED_TOKEN"}`, ``, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &response{status: 200, body: body, ctype: "application/json"}
		cl := call{method: "GET", route: "/x"}
		targets := []interface{}{&[]model.Task{}, &model.Task{}, &model.Workflow{}, &map[string]int{}, &[]model.PollData{}, &[]model.TaskExecLog{}, &model.WorkflowDef{}, &model.TaskDef{}}
		for _, v := range targets {
			if err := decodeJSON(cl, r, v); err != nil {
				if !isDecode(err) {
					t.Fatalf("decode error %v is not ErrDecode", err)
				}
			}
		}
		_ = text(r)
		_, _ = jwtExpiry(string(body))
		_ = parseRetryAfter(string(body), time.Now())
		var eb struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(body, &eb)
		e := &APIError{StatusCode: http.StatusNotFound, Message: string(body)}
		_ = endpointMissing(e)
		_ = e.Error()
	})
}

func isDecode(err error) bool {
	for e := err; e != nil; {
		if e == ErrDecode {
			return true
		}
		u, ok := e.(interface{ Unwrap() []error })
		if ok {
			for _, x := range u.Unwrap() {
				if isDecode(x) {
					return true
				}
			}
			return false
		}
		w, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = w.Unwrap()
	}
	return false
}
