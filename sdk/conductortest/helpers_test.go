package conductortest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// api is a raw HTTP client for one test server.
type api struct {
	t      testing.TB
	srv    *conductortest.Server
	base   string
	client *http.Client
	token  string
}

func newAPI(t testing.TB, opts ...conductortest.Option) *api {
	t.Helper()
	opts = append([]conductortest.Option{conductortest.WithOwnerEmailOptional()}, opts...)
	srv := conductortest.NewServer(opts...)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	a := &api{t: t, srv: srv, base: srv.URL(), client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return a
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func (r resp) text() string { return string(r.body) }

// errBody is the server's error answer.
type errBody struct {
	Status           int    `json:"status"`
	Message          string `json:"message"`
	Instance         string `json:"instance"`
	Retryable        bool   `json:"retryable"`
	Error            string `json:"error"`
	ValidationErrors []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"validationErrors"`
}

func (r resp) errBody(t testing.TB) errBody {
	t.Helper()
	var e errBody
	r.json(t, &e)
	return e
}

func (a *api) do(method, path string, body any) resp {
	a.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		ctype = "application/json"
	case []byte:
		rd = bytes.NewReader(b)
		ctype = "application/json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
		ctype = "application/json"
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if a.token != "" {
		req.Header.Set("X-Authorization", a.token)
	}
	res, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

func (a *api) expect(status int, method, path string, body any) resp {
	a.t.Helper()
	r := a.do(method, path, body)
	if r.status != status {
		a.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, status, r.body)
	}
	return r
}

func (a *api) registerTasks(defs ...model.TaskDef) {
	a.t.Helper()
	a.expect(200, "POST", "/metadata/taskdefs", defs)
}

func (a *api) registerWorkflow(def model.WorkflowDef) {
	a.t.Helper()
	a.expect(200, "PUT", "/metadata/workflow", []model.WorkflowDef{def})
}

// simpleWorkflow defines a workflow of SIMPLE tasks named after taskTypes
// with reference names ref0, ref1, ...
func simpleWorkflow(name string, taskTypes ...string) model.WorkflowDef {
	def := model.WorkflowDef{Name: name, Version: 1}
	for i, tt := range taskTypes {
		def.Tasks = append(def.Tasks, model.WorkflowTask{Name: tt, TaskReferenceName: "ref" + string(rune('0'+i)), Type: "SIMPLE"})
	}
	return def
}

func (a *api) start(name string, input map[string]any) string {
	a.t.Helper()
	if input == nil {
		input = map[string]any{}
	}
	r := a.expect(200, "POST", "/workflow", model.StartWorkflowRequest{Name: name, Input: input})
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		a.t.Fatalf("start: content type %q, want text/plain", ct)
	}
	return r.text()
}

func (a *api) pollBatch(taskType string, query string) []model.Task {
	a.t.Helper()
	r := a.expect(200, "GET", "/tasks/poll/batch/"+taskType+"?"+query, nil)
	var tasks []model.Task
	r.json(a.t, &tasks)
	return tasks
}

func (a *api) pollOne(taskType string) model.Task {
	a.t.Helper()
	tasks := a.pollBatch(taskType, "count=1&timeout=2000&workerid=w1")
	if len(tasks) != 1 {
		a.t.Fatalf("poll %s: got %d tasks, want 1", taskType, len(tasks))
	}
	return tasks[0]
}

func (a *api) update(t model.Task, status model.TaskResultStatus, output map[string]any, reason string) resp {
	a.t.Helper()
	res := model.TaskResult{WorkflowInstanceId: t.WorkflowInstanceId, TaskId: t.TaskId, Status: status,
		OutputData: output, ReasonForIncompletion: reason, WorkerId: "w1"}
	return a.expect(200, "POST", "/tasks", res)
}

func (a *api) workflow(id string) model.Workflow {
	a.t.Helper()
	var wf model.Workflow
	a.expect(200, "GET", "/workflow/"+id, nil).json(a.t, &wf)
	return wf
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
