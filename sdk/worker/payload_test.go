package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	wfexecutor "github.com/baton-go/baton/sdk/workflow/executor"
)

// payloadEnv is a dev server with external payload storage of the given
// kind and 1 KB task thresholds (10 KB hard output limit), and a client
// whose thresholds match.
func payloadEnv(t *testing.T, store string) *itEnv {
	t.Helper()
	lim := conductortest.PayloadLimits{TaskInput: 1024, TaskOutput: 1024, MaxTaskOutput: 10 << 10, WorkflowInput: 1024, WorkflowOutput: 1024}
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional(), conductortest.WithExternalPayloadStorage(store, lim))
	t.Cleanup(srv.Close)
	th := client.DefaultPayloadThresholds()
	th.TaskInput, th.TaskOutput, th.MaxTaskOutput = 1024, 1024, 10<<10
	th.WorkflowInput, th.WorkflowOutput = 1024, 1024
	api, err := client.New(nil, settings.NewHttpSettings(srv.URL()), client.WithPayloadThresholds(th))
	if err != nil {
		t.Fatal(err)
	}
	e := newITEnv(t)
	e.srv, e.api = srv, api
	return e
}

// twoSteps registers a workflow whose first task gets the workflow's input
// "blob" and whose second gets the first's output "big".
func twoSteps(t *testing.T, e *itEnv, name, first, second string) {
	t.Helper()
	if err := e.srv.RegisterTaskDefs(model.TaskDef{Name: first, ResponseTimeoutSeconds: 30}, model.TaskDef{Name: second, ResponseTimeoutSeconds: 30}); err != nil {
		t.Fatal(err)
	}
	err := e.srv.RegisterWorkflowDef(model.WorkflowDef{Name: name, Version: 1, SchemaVersion: 2, Tasks: []model.WorkflowTask{
		{Name: first, TaskReferenceName: "first", Type: "SIMPLE", InputParameters: map[string]interface{}{"blob": "${workflow.input.blob}"}},
		{Name: second, TaskReferenceName: "second", Type: "SIMPLE", InputParameters: map[string]interface{}{"big": "${first.output.big}"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// A task whose input the server externalized reaches its handler with that
// input, and a large output reaches the next task: with a store that takes
// uploads, the worker uploads it (the result names its path and carries no
// output); with the PostgreSQL kind, it goes inline and the server stores it.
// Before issue 25 the handler ran on the empty input.
func TestPayloadExternalInputAndOutputReachHandlers(t *testing.T) {
	for _, store := range []string{"presigned", "postgres"} {
		t.Run(store, func(t *testing.T) {
			e := payloadEnv(t, store)
			twoSteps(t, e, "pl_wf", "pl_first", "pl_second")
			blob, big := strings.Repeat("a", 5000), strings.Repeat("b", 6000)
			var mu sync.Mutex
			seen := map[string]string{}
			ext := map[string]bool{}
			r := e.runner(t)
			if err := r.StartWorker("pl_first", func(tk *model.Task) (interface{}, error) {
				mu.Lock()
				seen["first"], _ = tk.InputData["blob"].(string)
				ext["first"] = tk.ExternalInputPayloadStoragePath != ""
				mu.Unlock()
				return map[string]interface{}{"big": big}, nil
			}, 1, 10*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if err := r.StartWorker("pl_second", func(tk *model.Task) (interface{}, error) {
				mu.Lock()
				seen["second"], _ = tk.InputData["big"].(string)
				ext["second"] = tk.ExternalInputPayloadStoragePath != ""
				mu.Unlock()
				return map[string]interface{}{"ok": true}, nil
			}, 1, 10*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			id, err := e.srv.StartWorkflow(model.StartWorkflowRequest{Name: "pl_wf", Version: 1, Input: map[string]interface{}{"blob": blob}})
			if err != nil {
				t.Fatal(err)
			}
			e.wait(t, 30*time.Second, []string{id})
			wf, _ := e.srv.Workflow(id)
			if wf.Status != model.WorkflowCompleted {
				t.Fatalf("workflow %s: %s", wf.Status, wf.ReasonForIncompletion)
			}
			mu.Lock()
			defer mu.Unlock()
			if seen["first"] != blob || seen["second"] != big {
				t.Errorf("handlers saw inputs of %d and %d bytes, want %d and %d", len(seen["first"]), len(seen["second"]), len(blob), len(big))
			}
			if !ext["first"] || !ext["second"] {
				t.Errorf("externalized inputs: %v; want both (over the 1 KB threshold)", ext)
			}
			firstID := wf.Tasks[0].TaskId
			ups := e.srv.Updates(firstID)
			if len(ups) == 0 {
				t.Fatalf("no update of the first task")
			}
			last := ups[len(ups)-1]
			switch store {
			case "presigned":
				if last.ExternalOutputPayloadStoragePath == "" || len(last.OutputData) != 0 {
					t.Errorf("result of the first task: path %q and %d output keys; want the output uploaded and only its path sent", last.ExternalOutputPayloadStoragePath, len(last.OutputData))
				}
			default:
				if last.ExternalOutputPayloadStoragePath != "" || last.OutputData["big"] != big {
					t.Errorf("result of the first task: path %q; want the output inline (the PostgreSQL store takes no upload)", last.ExternalOutputPayloadStoragePath)
				}
			}
		})
	}
}

// The worker's client reads a workflow's externalized input through
// GetWorkflow.
func TestPayloadGetWorkflowReadsExternalInput(t *testing.T) {
	e := payloadEnv(t, "postgres")
	twoSteps(t, e, "pl_wf", "pl_first", "pl_second")
	blob := strings.Repeat("c", 3000)
	id, err := wfexecutor.NewWorkflowExecutor(e.api).StartWorkflowContext(context.Background(), &model.StartWorkflowRequest{Name: "pl_wf", Version: 1, Input: map[string]interface{}{"blob": blob}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := e.srv.Workflow(id)
	if raw.ExternalInputPayloadStoragePath == "" {
		t.Fatalf("the dev server did not externalize a %d-byte workflow input over a 1 KB threshold", len(blob))
	}
	wf, err := wfexecutor.NewWorkflowExecutor(e.api).GetWorkflowContext(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := wf.Input["blob"].(string); got != blob {
		t.Errorf("GetWorkflow input blob has %d bytes, want %d", len(got), len(blob))
	}
}

// A task whose input is externalized where no client can read it (the
// server's default store gives no URI) fails for good with a reason that
// says so; the handler never runs on the empty input.
func TestPayloadUnreadableInputFailsTaskWithoutRunningHandler(t *testing.T) {
	f := newFake()
	f.push("", model.Task{TaskId: "t1", WorkflowInstanceId: "w1", TaskType: "pl", ResponseTimeoutSeconds: 30,
		ExternalInputPayloadStoragePath: "somewhere/1.json", InputData: map[string]interface{}{}})
	var ran atomic.Int32
	r := newRunner(f, WithLogger(quietLogger()))
	if err := r.StartWorker("pl", func(*model.Task) (interface{}, error) { ran.Add(1); return nil, nil }, 1, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, f, "t1")
	shutdown(t, r)
	if ran.Load() != 0 {
		t.Errorf("handler ran %d times on a task whose input could not be read", ran.Load())
	}
	if res.Status != model.FailedWithTerminalErrorTask || !strings.Contains(res.ReasonForIncompletion, "somewhere/1.json") ||
		!strings.Contains(res.ReasonForIncompletion, "handler did not run") {
		t.Errorf("result %s %q; want FAILED_WITH_TERMINAL_ERROR naming the path and saying the handler did not run", res.Status, res.ReasonForIncompletion)
	}
}

// flakyPayloads fails the first n input fetches with a network-like error.
type flakyPayloads struct {
	*fakeAPI
	fails atomic.Int32
	n     int32
}

func (p *flakyPayloads) fetchTaskInput(_ context.Context, t *model.Task) error {
	if p.fails.Add(1) <= p.n {
		return errors.New("connection reset by peer")
	}
	t.InputData = map[string]interface{}{"blob": "fetched"}
	return nil
}

func (p *flakyPayloads) storeTaskOutput(context.Context, *model.TaskResult, int64) (bool, error) {
	return false, nil
}

// A failed input fetch is tried again while the lease lasts; the handler
// then runs once, on the fetched input.
func TestPayloadInputFetchRetriedThenHandlerRuns(t *testing.T) {
	p := &flakyPayloads{fakeAPI: newFake(), n: 3}
	p.push("", model.Task{TaskId: "t1", WorkflowInstanceId: "w1", TaskType: "pl", ResponseTimeoutSeconds: 30,
		ExternalInputPayloadStoragePath: "k.json"})
	var mu sync.Mutex
	var got []string
	r := newRunner(p, WithLogger(quietLogger()))
	if err := r.StartWorker("pl", func(tk *model.Task) (interface{}, error) {
		mu.Lock()
		got = append(got, tk.InputData["blob"].(string))
		mu.Unlock()
		return nil, nil
	}, 1, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, p.fakeAPI, "t1")
	shutdown(t, r)
	mu.Lock()
	defer mu.Unlock()
	if res.Status != model.CompletedTask || len(got) != 1 || got[0] != "fetched" {
		t.Errorf("result %s, handler inputs %v; want one run on the fetched input after 3 failed fetches", res.Status, got)
	}
	if n := p.fails.Load(); n != 4 {
		t.Errorf("%d fetches, want 4", n)
	}
}

// The fetch gives up when the task's response timeout has passed, and the
// task fails (retryably) with a reason that says why.
func TestPayloadInputFetchGivesUpWhenLeaseEnds(t *testing.T) {
	p := &flakyPayloads{fakeAPI: newFake(), n: 1 << 30}
	p.push("", model.Task{TaskId: "t1", WorkflowInstanceId: "w1", TaskType: "pl", ResponseTimeoutSeconds: 1,
		ExternalInputPayloadStoragePath: "k.json"})
	var ran atomic.Int32
	r := newRunner(p, WithLogger(quietLogger()))
	if err := r.StartWorker("pl", func(*model.Task) (interface{}, error) { ran.Add(1); return nil, nil }, 1, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, p.fakeAPI, "t1")
	shutdown(t, r)
	if ran.Load() != 0 {
		t.Errorf("handler ran %d times", ran.Load())
	}
	if res.Status != model.FailedTask || !strings.Contains(res.ReasonForIncompletion, "connection reset") || !strings.Contains(res.ReasonForIncompletion, "gave up") {
		t.Errorf("result %s %q; want FAILED with the fetch error and the attempts", res.Status, res.ReasonForIncompletion)
	}
}

// waitResult waits for the final result of task id on f.
func waitResult(t *testing.T, f *fakeAPI, id string) model.TaskResult {
	t.Helper()
	var res model.TaskResult
	waitFor(t, 20*time.Second, "a result of "+id, func() bool {
		rs := f.resultsOf(id)
		for _, r := range rs {
			if !r.ExtendLease {
				res = r
				return true
			}
		}
		return false
	})
	return res
}

func shutdown(t *testing.T, r *TaskRunner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	r.WaitWorkers()
}
