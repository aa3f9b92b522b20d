package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/internal/memhttp"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// The fuzz tests drive every decoder of server answers through the real
// request path (resty, status handling, size cap, decoding) with an
// in-process transport that answers the fuzzed body, so they need no
// network. Seeds are in testdata/fuzz/<name>; CI runs each for a fixed time.

const (
	fuzzSecret = "fuzz-s3cret-key"
	fuzzToken  = "fuzz-t0ken-value"
	fuzzLimit  = 64 << 10
)

// fuzzClient answers /token with a token and every other request with
// status, content type and body. Authentication is on so that the
// redaction of the secret and token can be checked on every error.
func fuzzClient(t testing.TB, status int, ctype string, body []byte) *APIClient {
	rt := memhttp.Transport(func(r *http.Request, _ []byte) (int, string, []byte) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			return 200, "application/json", []byte(`{"token":"` + fuzzToken + `"}`)
		}
		return status, ctype, body
	})
	c, err := New(settings.NewAuthenticationSettings("key", fuzzSecret), settings.NewHttpSettings("http://conductor.test/api"),
		WithHTTPClient(rt.Client()), WithMaxResponseBytes(fuzzLimit),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkErr asserts the invariants every failed decode must keep: the error
// is classified (ErrDecode, ErrResponseTooLarge or an *APIError) and never
// shows the secret or the token.
func checkErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var apiErr *APIError
	if !errors.Is(err, ErrDecode) && !errors.Is(err, ErrResponseTooLarge) && !errors.As(err, &apiErr) {
		t.Fatalf("%s: unclassified error %v (%T)", what, err, err)
	}
	leakCheck(t, what, err)
}

func leakCheck(t *testing.T, what string, err error) {
	t.Helper()
	texts := []string{err.Error(), fmt.Sprintf("%+v", err)}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		texts = append(texts, apiErr.Message, string(apiErr.Body))
		if len(apiErr.Body) > maxErrorBody {
			t.Fatalf("%s: error body of %d bytes kept", what, len(apiErr.Body))
		}
	}
	for _, s := range texts {
		if strings.Contains(s, fuzzSecret) || strings.Contains(s, fuzzToken) {
			t.Fatalf("%s: secret or token in %q", what, s)
		}
	}
}

// oracle reports what json.Unmarshal makes of body for a target like v:
// blank bodies count as "nothing" (the client treats them as empty).
func oracle(body []byte, v interface{}) (blank, ok bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return true, true
	}
	return false, json.Unmarshal(body, v) == nil
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

func FuzzDecodeTaskBatch(f *testing.F) {
	addSeeds(f, `[]`, ``, `null`, `[{"taskId":"1","taskType":"t","inputData":{"a":1},"status":"IN_PROGRESS","pollCount":1}]`,
		`[{"taskId":"1"},{"taskId":"2","unknownField":[1,2,{"x":null}]}]`, `{"not":"a list"}`, `[{"taskId":`, `[{"retryCount":"x"}]`,
		`[{"inputData":{"n":1e400}}]`, `"`+fuzzToken+`"`,
		// One task Go cannot hold among good ones: the big number Jackson
		// keeps as a BigInteger, a field of the wrong type.
		`[{"taskId":"a","workflowInstanceId":"w"},{"taskId":"b","workflowInstanceId":"w","inputData":{"n":`+strings.Repeat("9", 400)+`}},{"taskId":"c"}]`,
		`[{"taskId":"a","pollCount":"x"},{"taskId":"b","inputData":{"l":[1,2e999]}},{"taskId":7}]`)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzClient(t, 200, "application/json", body)
		tasks, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 5})
		checkErr(t, "BatchPoll", err)
		var want []model.Task
		blank, ok := oracle(body, &want)
		switch {
		case len(body) > fuzzLimit:
			if !errors.Is(err, ErrResponseTooLarge) {
				t.Fatalf("oversized body: err = %v", err)
			}
		case ok && err != nil:
			t.Fatalf("valid batch %q refused: %v", body, err)
		case !ok && !errors.Is(err, ErrDecode):
			t.Fatalf("invalid batch %q: err = %v, want ErrDecode", body, err)
		case !ok && errors.As(err, new(*TaskDecodeError)):
			// A list with undecodable tasks: the others are returned, each
			// as json.Unmarshal decodes it on its own.
			checkPartialBatch(t, body, tasks, err)
		case !ok && !errors.Is(err, ErrDecode):
			t.Fatalf("invalid batch %q: err = %v, want ErrDecode", body, err)
		case err == nil && tasks == nil:
			t.Fatal("no tasks must be an empty slice, not nil")
		case err == nil && !blank && len(tasks) != len(want):
			t.Fatalf("%d tasks decoded, json.Unmarshal finds %d", len(tasks), len(want))
		case err == nil && want != nil && !reflect.DeepEqual(tasks, want):
			t.Fatalf("tasks decoded differently from json.Unmarshal: %#v, want %#v", tasks, want)
		case !ok && len(body) <= fuzzLimit:
			// The message is the one decodeJSON always gave: encoding/json's.
			stdErr := json.Unmarshal(body, new([]model.Task))
			if w := fmt.Sprintf("%v: GET /api/tasks/poll/batch/t (content type \"application/json\"): %v", ErrDecode, stdErr); err.Error() != w {
				t.Fatalf("err = %v, want %s", err, w)
			}
		}
	})
}

// checkPartialBatch checks a batch answer decoded in part: every element
// json.Unmarshal decodes is among the tasks, in order, decoded the same;
// every other element is named in the *TaskDecodeError.
func checkPartialBatch(t *testing.T, body []byte, tasks []model.Task, err error) {
	t.Helper()
	var tde *TaskDecodeError
	errors.As(err, &tde)
	var raws []json.RawMessage
	if e := json.Unmarshal(body, &raws); e != nil {
		t.Fatalf("batch %q is not a list (%v), yet tasks were decoded one by one", body, e)
	}
	var good []model.Task
	bad := 0
	for _, r := range raws {
		var task model.Task
		if json.Unmarshal(r, &task) != nil {
			bad++
			continue
		}
		good = append(good, task)
	}
	if bad != len(tde.Tasks) || len(good) != len(tasks) {
		t.Fatalf("batch %q: %d decoded and %d undecodable, json.Unmarshal: %d and %d", body, len(tasks), len(tde.Tasks), len(good), bad)
	}
	for i := range good {
		if !reflect.DeepEqual(good[i], tasks[i]) {
			t.Fatalf("task %d decoded as %#v, json.Unmarshal %#v", i, tasks[i], good[i])
		}
	}
}

func FuzzDecodeTask(f *testing.F) {
	addSeeds(f, `{"taskId":"x","workflowInstanceId":"w","outputData":{"k":[1,2]}}`, ``, `{}`, `null`, `[]`, `{"taskId":1}`,
		`{"taskId":"x","status":"NEW_STATUS_FROM_A_FUTURE_SERVER"}`, `{"taskId":"x","responseTimeoutSeconds":-1}`,
		`{"taskId":"x","workflowInstanceId":"w","inputData":{"n":`+strings.Repeat("9", 400)+`}}`, `{"taskId":"x","retryCount":"x"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzClient(t, 200, "application/json", body)
		var want model.Task
		blank, ok := oracle(body, &want)
		ctx := context.Background()
		polled, err := c.Tasks().Poll(ctx, "t", "w", "")
		checkErr(t, "Poll", err)
		if ok && err != nil {
			t.Fatalf("Poll refused valid %q: %v", body, err)
		}
		if blank && polled != nil {
			t.Fatal("Poll of an empty answer returned a task")
		}
		if ok && !blank && (polled == nil || !reflect.DeepEqual(*polled, want)) {
			t.Fatalf("Poll decoded %#v, json.Unmarshal %#v", polled, want)
		}
		got, err := c.Tasks().GetTask(ctx, "x")
		checkErr(t, "GetTask", err)
		if err == nil && (got == nil || got.TaskId == "") {
			t.Fatalf("GetTask returned %+v without error", got)
		}
		next, err := c.Tasks().UpdateTaskV2(ctx, &model.TaskResult{TaskId: "x", WorkflowInstanceId: "w", Status: model.CompletedTask})
		checkErr(t, "UpdateTaskV2", err)
		if err == nil && next != nil && next.TaskId == "" {
			t.Fatal("UpdateTaskV2 returned a task without id")
		}
	})
}

func FuzzDecodeWorkflow(f *testing.F) {
	addSeeds(f, `{"workflowId":"w","status":"RUNNING","tasks":[{"taskId":"t"}],"input":{},"output":{"x":1}}`, ``, `{}`, `{"workflowId":"w","tasks":{}}`,
		`{"workflowId":"w","status":"SOMETHING"}`, `{"workflowId":"w","variables":null,"priority":"high"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzClient(t, 200, "application/json", body)
		ctx := context.Background()
		wf, err := c.workflows().Get(ctx, "w", true)
		checkErr(t, "Get", err)
		if err == nil && (wf == nil || wf.WorkflowId == "") {
			t.Fatalf("Get returned %+v without error", wf)
		}
		_, err = c.Tasks().UpdateTaskByRefNameSync(ctx, "w", "r", model.CompletedTask, nil, "")
		checkErr(t, "UpdateTaskByRefNameSync", err)
	})
}

func FuzzDecodeDefinitions(f *testing.F) {
	addSeeds(f, `{"name":"a","retryCount":3,"timeoutSeconds":0,"ownerEmail":"o@x"}`, `{"name":"f","version":2,"tasks":[{"name":"a","taskReferenceName":"a","type":"SIMPLE"}]}`,
		``, `[]`, `{"name":"f","tasks":[{"decisionCases":{"x":[{"name":"b"}]}}]}`, `{"version":"two"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzClient(t, 200, "application/json", body)
		ctx := context.Background()
		var td model.TaskDef
		_, tdOK := oracle(body, &td)
		_, err := c.metadata().GetTaskDef(ctx, "a")
		checkErr(t, "GetTaskDef", err)
		if tdOK && err != nil && len(body) <= fuzzLimit {
			t.Fatalf("GetTaskDef refused valid %q: %v", body, err)
		}
		var wd model.WorkflowDef
		_, wdOK := oracle(body, &wd)
		_, err = c.metadata().GetWorkflowDef(ctx, "f", 0)
		checkErr(t, "GetWorkflowDef", err)
		if wdOK && err != nil && len(body) <= fuzzLimit {
			t.Fatalf("GetWorkflowDef refused valid %q: %v", body, err)
		}
	})
}

func FuzzDecodeQueueAnswers(f *testing.F) {
	addSeeds(f, `{"a":3,"b":0}`, `{"a":1.5}`, `{"a":"3"}`, ``, `[{"queueName":"a","domain":"d","workerId":"w","lastPollTime":1700000000000}]`,
		`[{"taskId":"t","log":"line","createdTime":1}]`, `[]`, `{}`, `null`)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzClient(t, 200, "application/json", body)
		ctx := context.Background()
		sizes, err := c.Tasks().QueueSizes(ctx, "a")
		checkErr(t, "QueueSizes", err)
		if err == nil && sizes == nil {
			t.Fatal("QueueSizes returned a nil map")
		}
		pd, err := c.Tasks().PollData(ctx, "a")
		checkErr(t, "PollData", err)
		if err == nil && pd == nil {
			t.Fatal("PollData returned a nil slice")
		}
		logs, err := c.Tasks().GetLogs(ctx, "t")
		checkErr(t, "GetLogs", err)
		if err == nil && logs == nil {
			t.Fatal("GetLogs returned a nil slice")
		}
	})
}

func FuzzDecodeTextID(f *testing.F) {
	addSeeds(f, `wf-123`, `"wf-123"`, ``, "  id-with-space \n", `"unterminated`, `{"id":"x"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzClient(t, 200, "text/plain;charset=UTF-8", body)
		ctx := context.Background()
		id, err := c.workflows().Start(ctx, &model.StartWorkflowRequest{Name: "f"})
		checkErr(t, "Start", err)
		if err == nil && id != strings.TrimSpace(id) {
			t.Fatalf("Start returned an untrimmed id %q", id)
		}
		id, err = c.Tasks().UpdateTaskByRefName(ctx, "w", "r", model.CompletedTask, nil, "")
		checkErr(t, "UpdateTaskByRefName", err)
		if err == nil && id == "" {
			t.Fatal("UpdateTaskByRefName returned an empty id without error")
		}
	})
}

func FuzzDecodeErrorAnswer(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{404, `{"status":404,"message":"No such task found by id: abc","instance":"h","retryable":false}`},
		{400, `{"status":400,"message":"Validation failed, check below errors for detail.","validationErrors":[{"path":"a.b","message":"m","invalidValue":1}]}`},
		{401, `{"error":"EXPIRED_TOKEN","message":"Token expired"}`},
		{403, `{"error":"INVALID_TOKEN"}`},
		{500, `<html><body>Whitelabel Error Page</body></html>`},
		{503, ``},
		{409, `{"message":"echo ` + fuzzSecret + ` and ` + fuzzToken + `"}`},
		{418, strings.Repeat("x", 5000)},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 300 || status > 599 {
			return
		}
		c := fuzzClient(t, status, "application/json", body)
		_, err := c.Tasks().withoutRetries().GetTask(context.Background(), "abc")
		if err == nil {
			t.Fatalf("status %d gave no error", status)
		}
		leakCheck(t, "GetTask error", err)
		var apiErr *APIError
		if len(body) <= fuzzLimit && (!errors.As(err, &apiErr) || apiErr.StatusCode != status) {
			if status != 401 && !(status == 403 && (strings.Contains(string(body), "EXPIRED_TOKEN") || strings.Contains(string(body), "INVALID_TOKEN"))) {
				t.Fatalf("status %d: err = %v, want *APIError with that status", status, err)
			}
		}
		_ = endpointMissing(&APIError{StatusCode: status, Message: string(body)})
	})
}

func FuzzDecodeTokenAnswer(f *testing.F) {
	addSeeds(f, `{"token":"abc"}`, `{"token":""}`, `{}`, ``, `{"token":123}`, `{"token":"a.eyJleHAiOjE3MDAwMDAwMDB9.c"}`,
		`{"token":"a.eyJleHAiOiJ4In0.c"}`, `{"token":"a.!!!.c"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		rt := memhttp.Transport(func(r *http.Request, _ []byte) (int, string, []byte) {
			if strings.HasSuffix(r.URL.Path, "/token") {
				return 200, "", body
			}
			return 200, "", []byte(`[]`)
		})
		c, err := New(settings.NewAuthenticationSettings("key", fuzzSecret), settings.NewHttpSettings("http://conductor.test/api"),
			WithHTTPClient(rt.Client()), WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("bad token answer %q: err = %v, want ErrDecode", body, err)
			}
			if strings.Contains(err.Error(), fuzzSecret) {
				t.Fatalf("secret in %v", err)
			}
		}
		if exp, ok := jwtExpiry(string(body)); ok && exp.IsZero() {
			t.Fatal("jwtExpiry reported a zero expiry as readable")
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "5", "-1", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", " 3 "} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v, now); d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, negative", v, d)
		}
	})
}
