package conductortest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-go/baton/internal/devflags"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// The black-box tests run against a dev server of their own, or, with
// CONDUCTORTEST_TARGET=remote, against the server at CONDUCTOR_SERVER_URL
// (test/conductor/run.sh starts Conductor OSS for make test-conductor).
const (
	envTarget = "CONDUCTORTEST_TARGET"
	envURL    = "CONDUCTOR_SERVER_URL"
	// envVersion picks the dev server's version profile (3.21 or 3.32;
	// default the server's own, 3.32); make test runs both. Against
	// a remote server CONDUCTOR_SERVER_VERSION (set by run.sh) says which
	// release answers.
	envVersion       = "CONDUCTORTEST_VERSION"
	envServerVersion = "CONDUCTOR_SERVER_VERSION"

	// owner is the ownerEmail of every definition the tests register: the
	// real server requires one, and so does a dev server without
	// WithOwnerEmailOptional.
	owner = "conductortest@example.com"

	// remotePatience bounds waits for what a real server does on its own:
	// its sweeper may act about 30 s late, twice in a row for a retry.
	remotePatience = 90 * time.Second
)

// remoteURL is the API root of the remote server, or "" for the dev server;
// an unusable setting is an error.
func remoteURL() (string, error) {
	switch target := os.Getenv(envTarget); target {
	case "", "local":
		return "", nil
	case "remote":
		raw := strings.TrimSuffix(os.Getenv(envURL), "/")
		u, err := url.Parse(raw)
		if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("%s=remote needs %s, the server's API root such as http://127.0.0.1:8080/api; got %q", envTarget, envURL, raw)
		}
		return raw, nil
	default:
		return "", fmt.Errorf("%s=%q: want remote or local", envTarget, target)
	}
}

// api is a raw HTTP client for one test's server: a dev server of its own,
// or the shared remote server.
type api struct {
	t      testing.TB
	srv    *conductortest.Server // nil against a remote server
	remote bool
	base   string // API root, ending in /api
	root   string // base without /api, where /health lives
	client *http.Client
	token  string
	suffix string
	// advanced counts the times timedOut moved the dev server's stopped
	// clock (longpoll_test.go); copies made by on share it.
	advanced *atomic.Int64
}

// newAPI starts a dev server with opts, or, in remote mode, points at the
// remote server. opts configure the dev server only: the remote server has
// its own configuration (test/conductor/run.sh gives it a 1 s postpone
// duration, as tests pass WithPostponeDuration), so a test whose assertions
// depend on another option calls needLocal.
func newAPI(t testing.TB, opts ...conductortest.Option) *api {
	t.Helper()
	remote, err := remoteURL()
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	a := &api{t: t, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, suffix: randomHex(4), advanced: new(atomic.Int64)}
	t.Cleanup(tr.CloseIdleConnections)
	if remote != "" {
		a.remote, a.base = true, remote
	} else {
		if v := os.Getenv(envVersion); v != "" {
			pv, err := devflags.ParseVersion(v)
			if err != nil {
				t.Fatalf("%s: %v", envVersion, err)
			}
			opts = append([]conductortest.Option{conductortest.WithVersion(pv)}, opts...)
		}
		srv := conductortest.NewServer(opts...)
		t.Cleanup(srv.Close) // runs before CloseIdleConnections
		a.srv, a.base = srv, srv.URL()
	}
	a.root = strings.TrimSuffix(a.base, "/api")
	return a
}

// version is the release line that answers: the dev server's profile, or
// the remote server's version as run.sh exported it.
func (a *api) version() conductortest.Version {
	a.t.Helper()
	if a.srv != nil {
		return a.srv.Version()
	}
	v, err := devflags.ParseVersion(os.Getenv(envServerVersion))
	if err != nil {
		a.t.Fatalf("remote server: %s: %v (run through test/conductor/run.sh, or set it)", envServerVersion, err)
	}
	return v
}

// is321 reports whether the answering server is (or imitates) 3.21.
func (a *api) is321() bool { return a.version() == conductortest.Version321 }

// sqlite reports whether the server answers as 3.32 with its default SQLite
// store does: the dev server's 3.32 profile, or a remote 3.32 that run.sh
// did not start with Redis stores (which answer some requests as 3.21 does).
func (a *api) sqlite() bool {
	return !a.is321() && (!a.remote || os.Getenv("CONDUCTOR_SERVER_STORE") != "redis")
}

// needLocal skips the test against a remote server: it needs something only
// the dev server has.
func (a *api) needLocal(what string) {
	a.t.Helper()
	if a.remote {
		a.t.Skipf("needs the dev server (%s); %s=remote runs against %s", what, envTarget, a.base)
	}
}

// on returns a copy of a that reports to t, for use inside a subtest.
func (a *api) on(t testing.TB) *api {
	c := *a
	c.t = t
	return &c
}

// name makes a task or workflow name unique to this test, since a remote
// server keeps everything that earlier tests (and runs) registered.
func (a *api) name(base string) string { return base + "_" + a.suffix }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
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

// registerTasks registers task definitions, with ownerEmail filled in.
func (a *api) registerTasks(defs ...model.TaskDef) {
	a.t.Helper()
	for i := range defs {
		if defs[i].OwnerEmail == "" {
			defs[i].OwnerEmail = owner
		}
	}
	a.expect(200, "POST", "/metadata/taskdefs", defs)
}

// registerWorkflow registers (or replaces) a workflow definition, with
// ownerEmail filled in.
func (a *api) registerWorkflow(def model.WorkflowDef) {
	a.t.Helper()
	if def.OwnerEmail == "" {
		def.OwnerEmail = owner
	}
	a.expect(200, "PUT", "/metadata/workflow", []model.WorkflowDef{def})
}

// simpleWorkflow defines a workflow of SIMPLE tasks named after taskTypes
// with reference names ref0, ref1, ...
func simpleWorkflow(name string, taskTypes ...string) model.WorkflowDef {
	def := model.WorkflowDef{Name: name, Version: 1, OwnerEmail: owner}
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

// task reads a task over HTTP.
func (a *api) task(id string) model.Task {
	a.t.Helper()
	var tk model.Task
	a.expect(200, "GET", "/tasks/"+id, nil).json(a.t, &tk)
	return tk
}

// queueSize reads the size of a task type's queue (without domain) over
// HTTP; delayed messages count.
func (a *api) queueSize(taskType string) int {
	a.t.Helper()
	var n int
	a.expect(200, "GET", "/tasks/queue/size?taskType="+url.QueryEscape(taskType), nil).json(a.t, &n)
	return n
}

// advance moves the dev server's clock by d. A remote server's clock runs on
// its own, so there the caller waits instead: with pollDue, waitTerminal or
// eventually.
func (a *api) advance(d time.Duration) {
	if a.srv != nil {
		a.srv.Advance(d)
	}
}

// pollDue polls one task that becomes due after d (a callback or a retry
// delay): on the dev server it advances the clock by d first; a remote
// server is polled until the task comes, for at most d plus remotePatience.
func (a *api) pollDue(taskType string, d time.Duration) model.Task {
	a.t.Helper()
	if !a.remote {
		a.advance(d)
		return a.pollOne(taskType)
	}
	deadline := time.Now().Add(d + remotePatience)
	for time.Now().Before(deadline) {
		// Short polls: the Redis queue does not hand out a task that
		// becomes due during a long poll.
		if tasks := a.pollBatch(taskType, "count=1&timeout=100&workerid=w1"); len(tasks) > 0 {
			return tasks[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.t.Fatalf("no %s task became due within %v", taskType, d+remotePatience)
	return model.Task{}
}

// eventually checks cond until it holds, for at most within on the dev
// server and remotePatience on a remote one.
func (a *api) eventually(what string, within time.Duration, cond func() bool) {
	a.t.Helper()
	every := 2 * time.Millisecond
	if a.remote {
		within, every = max(within, remotePatience), 100*time.Millisecond
	}
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			a.t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(every)
	}
}

// waitTerminal waits until the workflow has ended and returns it.
func waitTerminal(t *testing.T, a *api, id string) model.Workflow {
	t.Helper()
	if a.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.srv.WaitWorkflows(ctx, id); err != nil {
			t.Fatalf("workflow %s did not end: %v", id, err)
		}
		return a.workflow(id)
	}
	var wf model.Workflow
	a.eventually("workflow "+id+" to end", remotePatience, func() bool {
		wf = a.workflow(id)
		return wf.Status != model.WorkflowRunning && wf.Status != model.WorkflowPaused
	})
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
