package conductortest_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/baton-go/baton/internal/devflags"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// Black-box tests of external payload storage, the PostgreSQL kind with
// Conductor's default thresholds: on the dev server, and on a real server
// that run.sh gave a PostgreSQL store (CONDUCTOR_SERVER_PAYLOAD_STORE).

func newPayloadAPI(t *testing.T) *api {
	t.Helper()
	a := newAPI(t, conductortest.WithOwnerEmailOptional(),
		conductortest.WithExternalPayloadStorage("postgres", conductortest.PayloadLimits{}))
	if a.remote && os.Getenv("CONDUCTOR_SERVER_PAYLOAD_STORE") != "postgres" {
		t.Skip("the remote server has no PostgreSQL payload store (CONDUCTOR_PAYLOAD_STORE=postgres in run.sh)")
	}
	return a
}

// get fetches an absolute URL (a location's URI).
func (a *api) get(uri string) (int, []byte) {
	a.t.Helper()
	res, err := a.client.Get(uri)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return res.StatusCode, b
}

type location struct {
	URI  string `json:"uri"`
	Path string `json:"path"`
}

// A task input over the 3 MB threshold is handed out empty with a path; the
// READ location points at the server's PostgreSQL route, which serves it.
// An inline output over 10 MB fails the task with the server's message.
func TestPayloadPostgresInputExternalizedAndOutputLimit(t *testing.T) {
	t.Parallel()
	a := newPayloadAPI(t)
	tt := a.name("pl_pg")
	a.registerTasks(model.TaskDef{Name: tt, RetryCount: 0, ResponseTimeoutSeconds: 300, TimeoutSeconds: 600})
	def := simpleWorkflow(a.name("pl_pg_wf"), tt)
	def.Tasks[0].InputParameters = map[string]interface{}{"blob": "${workflow.input.blob}"}
	a.registerWorkflow(def)
	blob := strings.Repeat("p", 3_500_000)
	id := a.start(def.Name, map[string]any{"blob": blob})
	tk := a.pollOne(tt)
	if tk.ExternalInputPayloadStoragePath == "" || len(tk.InputData) != 0 {
		t.Fatalf("polled task: path %q, %d input keys; want the input externalized", tk.ExternalInputPayloadStoragePath, len(tk.InputData))
	}
	var loc location
	a.expect(200, "GET", "/tasks/externalstoragelocation?path="+tk.ExternalInputPayloadStoragePath+"&operation=READ&payloadType=TASK_INPUT", nil).json(t, &loc)
	if loc.Path != tk.ExternalInputPayloadStoragePath || !strings.Contains(loc.URI, "/api/external/postgres/"+loc.Path) {
		t.Fatalf("READ location %+v", loc)
	}
	status, body := a.get(loc.URI)
	if status != 200 || !strings.Contains(string(body), blob) {
		t.Fatalf("GET %s: %d, %d bytes; want the input", loc.URI, status, len(body))
	}
	// A key the store does not have: 200 with an error object.
	status, body = a.get(strings.Replace(loc.URI, loc.Path, "no-such-key.json", 1))
	if status != 200 || !strings.Contains(string(body), "does not exist") {
		t.Errorf("unknown key: %d %s", status, body)
	}
	// A WRITE location names the same route, which takes no upload.
	a.expect(200, "GET", "/tasks/externalstoragelocation?path=&operation=WRITE&payloadType=TASK_OUTPUT", nil).json(t, &loc)
	if !strings.Contains(loc.URI, "/api/external/postgres/") || loc.Path == "" {
		t.Errorf("WRITE location %+v", loc)
	}

	a.update(tk, model.CompletedTask, map[string]any{"huge": strings.Repeat("h", 11<<20)}, "")
	got := a.task(tk.TaskId)
	if got.Status != model.TaskFailedWithTerminalError || !strings.Contains(got.ReasonForIncompletion, "is greater than the permissible limit: 10485760 bytes") {
		t.Errorf("task after an 11 MB output: %s %q", got.Status, got.ReasonForIncompletion)
	}
	if wf := waitTerminal(t, a, id); wf.Status != model.WorkflowFailed {
		t.Errorf("workflow %s", wf.Status)
	}
}

// An output over the 3 MB threshold is kept in the store: GetTask shows the
// path and an empty output, and the next task still gets the output.
func TestPayloadPostgresOutputExternalizedAndPassedOn(t *testing.T) {
	t.Parallel()
	a := newPayloadAPI(t)
	t1, t2 := a.name("pl_pg_a"), a.name("pl_pg_b")
	a.registerTasks(model.TaskDef{Name: t1, RetryCount: 0, ResponseTimeoutSeconds: 300}, model.TaskDef{Name: t2, RetryCount: 0, ResponseTimeoutSeconds: 300})
	def := simpleWorkflow(a.name("pl_pg_wf2"), t1, t2)
	def.Tasks[1].InputParameters = map[string]interface{}{"big": "${ref0.output.big}"}
	a.registerWorkflow(def)
	a.start(def.Name, nil)
	first := a.pollOne(t1)
	big := strings.Repeat("q", 3_300_000)
	a.update(first, model.CompletedTask, map[string]any{"big": big}, "")
	got := a.task(first.TaskId)
	if got.ExternalOutputPayloadStoragePath == "" || len(got.OutputData) != 0 {
		t.Errorf("task after a 3.3 MB output: path %q, %d output keys; want it externalized", got.ExternalOutputPayloadStoragePath, len(got.OutputData))
	}
	second := a.pollOne(t2)
	var loc location
	a.expect(200, "GET", "/tasks/externalstoragelocation?path="+second.ExternalInputPayloadStoragePath+"&operation=READ&payloadType=TASK_INPUT", nil).json(t, &loc)
	if status, body := a.get(loc.URI); status != http.StatusOK || !strings.Contains(string(body), big) {
		t.Errorf("second task's input at %s: %d, %d bytes; want the first task's output", loc.URI, status, len(body))
	}
}

// A zero PayloadLimits field takes Conductor's default and a negative one
// turns its check off: with a 1 KB task-input threshold and no output
// limit, a 2 KB task input is kept in the store while the same workflow
// input (under its 5 MB default) is not, and an 11 MB output completes the
// task and is kept in the store (over the 3 MB default).
func TestPayloadLimitsDefaultsAndOff(t *testing.T) {
	t.Parallel()
	a := newAPI(t, conductortest.WithOwnerEmailOptional(), conductortest.WithExternalPayloadStorage("postgres",
		conductortest.PayloadLimits{TaskInput: 1 << 10, MaxTaskOutput: -1}))
	a.needLocal("the dev server's payload limits")
	tt := a.name("pl_lim")
	a.registerTasks(model.TaskDef{Name: tt, RetryCount: 0, ResponseTimeoutSeconds: 300})
	def := simpleWorkflow(a.name("pl_lim_wf"), tt)
	def.Tasks[0].InputParameters = map[string]interface{}{"blob": "${workflow.input.blob}"}
	a.registerWorkflow(def)
	id := a.start(def.Name, map[string]any{"blob": strings.Repeat("l", 2048)})
	tk := a.pollOne(tt)
	if tk.ExternalInputPayloadStoragePath == "" {
		t.Errorf("a 2 KB task input over a 1 KB threshold was handed out inline")
	}
	if wf := a.workflow(id); wf.ExternalInputPayloadStoragePath != "" || len(wf.Input) == 0 {
		t.Errorf("a 2 KB workflow input was kept in the store (path %q) under the 5 MB default", wf.ExternalInputPayloadStoragePath)
	}
	a.update(tk, model.CompletedTask, map[string]any{"huge": strings.Repeat("h", 11<<20)}, "")
	if got := a.task(tk.TaskId); got.Status != model.TaskCompleted || got.ExternalOutputPayloadStoragePath == "" {
		t.Errorf("task after an 11 MB output with the limit off: %s, path %q; want COMPLETED and the output in the store", got.Status, got.ExternalOutputPayloadStoragePath)
	}
}

// The payload store kinds are named the same by WithExternalPayloadStorage
// and by cmd/conductor-dev's -payload-store (devflags), and an unknown name
// is an error that names it.
func TestPayloadStoreNames(t *testing.T) {
	for _, flag := range []string{"", "none", "presigned", "S3", "postgres"} {
		name, err := devflags.ParsePayloadStore(flag)
		if err != nil {
			t.Errorf("ParsePayloadStore(%q): %v", flag, err)
			continue
		}
		srv, err := conductortest.Start(conductortest.WithExternalPayloadStorage(name, conductortest.PayloadLimits{}))
		if err != nil {
			t.Errorf("WithExternalPayloadStorage(%q) (from %q): %v", name, flag, err)
			continue
		}
		srv.Close()
	}
	if _, err := conductortest.Start(conductortest.WithExternalPayloadStorage("s4", conductortest.PayloadLimits{})); err == nil || !strings.Contains(err.Error(), `payload store "s4"`) {
		t.Errorf("unknown store: error %v, want one naming it", err)
	}
}
