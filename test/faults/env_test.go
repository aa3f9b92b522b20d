package faults

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/metrics"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

// env is one scenario: a dev server of its own, the suite logger tagged with
// the scenario's name, a Prometheus registry, and a probe that counts what
// the runner did (executions, failed update attempts, poll errors, the first
// successes after a fault ended).
type env struct {
	t     *testing.T
	name  string
	srv   *conductortest.Server
	log   logrus.FieldLogger
	reg   *prometheus.Registry
	prom  *metrics.Prometheus
	probe *probe
}

func newEnv(t *testing.T, name string, opts ...conductortest.Option) *env {
	t.Helper()
	quiet := logrus.New()
	quiet.SetOutput(discard{})
	srv := conductortest.NewServer(append([]conductortest.Option{conductortest.WithOwnerEmailOptional(), conductortest.WithLogger(quiet)}, opts...)...)
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	prom, err := metrics.NewPrometheus(reg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, name: name, srv: srv, log: logs.forScenario(name), reg: reg, prom: prom, probe: newProbe()}
}

// client returns an API client for the env's server that logs to the suite
// logger, reports to the env's metrics and records the tokens it sends.
func (e *env) client(auth *settings.AuthenticationSettings, opts ...client.Option) *client.APIClient {
	e.t.Helper()
	hc := &http.Client{Transport: newRecordingTransport()}
	api, err := client.New(auth, settings.NewHttpSettings(e.srv.URL()),
		append([]client.Option{client.WithLogger(e.log), client.WithObserver(e.prom), client.WithHTTPClient(hc)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(api.CloseIdleConnections)
	return api
}

// runner returns a runner over api with the suite logger, the env's metrics
// (through the probe) and the probe's hooks. It is shut down at cleanup.
func (e *env) runner(api *client.APIClient, opts ...worker.Option) *worker.TaskRunner {
	e.t.Helper()
	all := append([]worker.Option{
		worker.WithLogger(e.log),
		worker.WithMetrics(&probeRecorder{Recorder: e.prom, p: e.probe}),
		worker.WithHooks(e.probe.hooks()),
	}, opts...)
	r := worker.NewTaskRunnerWithApiClient(api, all...)
	e.t.Cleanup(func() {
		// A deadline for a drain that has nothing left to wait for: every
		// scenario has released its handlers by now. It only has to outlast
		// the slowest delivery on a loaded machine (the 50 MB result under
		// -race once took longer than 30 s at a load average of 30).
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			e.t.Errorf("shutdown: %v", err)
		}
		r.WaitWorkers()
	})
	return r
}

// define registers a one-task workflow "wf_<taskType>" whose task gets the
// workflow's k and payload as input. def, when given, is registered first
// (its Name is set to taskType).
func (e *env) define(taskType string, def *model.TaskDef) {
	e.t.Helper()
	if def != nil {
		d := *def
		d.Name = taskType
		if err := e.srv.RegisterTaskDefs(d); err != nil {
			e.t.Fatal(err)
		}
	}
	wd := model.WorkflowDef{Name: "wf_" + taskType, Version: 1, SchemaVersion: 2, Tasks: []model.WorkflowTask{{
		Name: taskType, TaskReferenceName: "t", Type: "SIMPLE",
		InputParameters: map[string]interface{}{"k": "${workflow.input.k}", "payload": "${workflow.input.payload}"},
	}}}
	if err := e.srv.RegisterWorkflowDef(wd); err != nil {
		e.t.Fatal(err)
	}
}

// redeliverable is a task definition for scenarios where a task handed out
// in an answer the worker never saw must come back soon: the server times it
// out after 2 s without news and schedules a retry at once.
func redeliverable() *model.TaskDef {
	return &model.TaskDef{RetryCount: 10, RetryLogic: model.RetryFixed, RetryDelaySeconds: 0,
		ResponseTimeoutSeconds: 2, TimeoutPolicy: model.TimeoutPolicyTimeOutWF, RateLimitFrequencyInSeconds: 1, BackoffScaleFactor: 1}
}

// start starts n workflows of taskType with inputs k = first..first+n-1.
func (e *env) start(taskType string, first, n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := e.srv.StartWorkflow(model.StartWorkflowRequest{Name: "wf_" + taskType, Version: 1,
			Input: map[string]interface{}{"k": first + i, "payload": payloadMarker}})
		if err != nil {
			e.t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

// trickle starts n workflows of taskType in bursts of burst, one burst every
// every, so that the worker's queue runs dry between bursts and its slots go
// back to polling (a full queue is drained through update-v2 alone, which
// would leave the poll path almost untested).
func (e *env) trickle(taskType string, first, n, burst int, every time.Duration) []string {
	e.t.Helper()
	var ids []string
	for len(ids) < n {
		if len(ids) > 0 {
			time.Sleep(every)
		}
		ids = append(ids, e.start(taskType, first+len(ids), min(burst, n-len(ids)))...)
	}
	return ids
}

// wait blocks until every workflow ended, failing the test after d.
func (e *env) wait(ids []string, d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := e.srv.WaitWorkflows(ctx, ids...); err != nil {
		done := 0
		for _, id := range ids {
			if wf, ok := e.srv.Workflow(id); ok && wf.Status.Terminal() {
				done++
			}
		}
		e.t.Fatalf("waiting for workflows: %v (%d of %d ended)", err, done, len(ids))
	}
}

// settle waits until every slot of r is free: a slot is released only once
// its result was delivered (or given up), so after settle no retry of an
// update is still on its way. Workflows can complete before that: the update
// that completed one may have been applied while its answer was lost.
func (e *env) settle(r *worker.TaskRunner) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, "every slot to be released", func() bool {
		for _, w := range r.Workers() {
			if w.SlotsInUse != 0 {
				return false
			}
		}
		return true
	})
}

// double is the well-behaved handler: output {"double": 2k, "echo": payload}.
// It counts executions per task id in the probe.
func (e *env) double(extra func(ctx context.Context, t *model.Task)) worker.HandlerFunc {
	return func(ctx context.Context, t *model.Task) (interface{}, error) {
		e.probe.executed(t.TaskId)
		if extra != nil {
			extra(ctx, t)
		}
		k, _ := t.InputData["k"].(float64)
		return map[string]interface{}{"double": 2 * k, "echo": t.InputData["payload"]}, nil
	}
}

// report is what a scenario measured, from the server's side and the
// runner's. Lost must be 0 in every scenario.
type report struct {
	Workflows   int // workflows started
	Completed   int // workflows COMPLETED
	Executions  int // handler calls
	Duplicates  int // handler calls beyond the first for one task id
	Redelivered int // tasks the server timed out and handed out again as a retry
	// ExtraUpdates counts updates the server received beyond one per task:
	// retries of results it had already applied (harmless).
	ExtraUpdates int
	// UpdateRetries counts failed attempts to post a result that the runner
	// retried; PollErrors the failed polls.
	UpdateRetries int64
	PollErrors    int64
	GiveUps       int64
	// Lost counts results the handler produced that the server never
	// received, plus workflows that did not complete.
	Lost int
}

func (r report) String() string {
	return fmt.Sprintf("workflows=%d completed=%d executions=%d duplicates=%d redelivered=%d extraUpdates=%d updateRetries=%d pollErrors=%d giveUps=%d lost=%d",
		r.Workflows, r.Completed, r.Executions, r.Duplicates, r.Redelivered, r.ExtraUpdates, r.UpdateRetries, r.PollErrors, r.GiveUps, r.Lost)
}

// audit checks, from the server's introspection, that every workflow
// completed, that its last task completed with the right output and that
// every result a handler produced reached the server; it fails the test on
// any lost result and returns the counts.
func (e *env) audit(ids []string) report {
	e.t.Helper()
	rep := report{Workflows: len(ids)}
	seen := map[string]bool{}
	for _, id := range ids {
		wf, ok := e.srv.Workflow(id)
		if !ok {
			e.t.Errorf("workflow %s unknown to the server", id)
			rep.Lost++
			continue
		}
		if wf.Status != model.WorkflowCompleted {
			e.t.Errorf("workflow %s ended %s: %s", id, wf.Status, wf.ReasonForIncompletion)
			rep.Lost++
			continue
		}
		rep.Completed++
		k, _ := wf.Input["k"].(float64)
		for i, tk := range wf.Tasks {
			seen[tk.TaskId] = true
			ups := e.srv.Updates(tk.TaskId)
			if len(ups) > 1 {
				rep.ExtraUpdates += len(ups) - 1
			}
			last := i == len(wf.Tasks)-1
			switch {
			case last && tk.Status == model.TaskCompleted:
				if fmt.Sprint(tk.OutputData["double"]) != fmt.Sprint(2*k) || tk.OutputData["echo"] != payloadMarker {
					e.t.Errorf("task %s (k=%v): wrong output %v", tk.TaskId, k, tk.OutputData)
				}
			case !last && tk.Status == model.TaskTimedOut:
				rep.Redelivered++
			default:
				e.t.Errorf("workflow %s task %d/%d (%s): status %s: %s", id, i+1, len(wf.Tasks), tk.TaskId, tk.Status, tk.ReasonForIncompletion)
			}
		}
	}
	// Every task a handler ran must have at least one update on the server.
	for _, id := range e.probe.executedIDs() {
		if !seen[id] {
			continue // not one of ids (another workload of the scenario)
		}
		if len(e.srv.Updates(id)) == 0 {
			e.t.Errorf("task %s ran but the server never received its result", id)
			rep.Lost++
		}
	}
	rep.Executions, rep.Duplicates = e.probe.executions(seen)
	rep.UpdateRetries = e.probe.updateRetries.Load()
	rep.PollErrors = e.probe.pollErrors.Load()
	rep.GiveUps = e.probe.giveUps.Load()
	if rep.GiveUps != 0 {
		e.t.Errorf("runner gave up on %d results", rep.GiveUps)
	}
	if rep.Lost != 0 {
		e.t.Errorf("%d results lost", rep.Lost)
	}
	return rep
}

// probe counts what the runner did, through its hooks and recorder.
type probe struct {
	mu   sync.Mutex
	runs map[string]int // handler executions by task id

	updateRetries atomic.Int64
	pollErrors    atomic.Int64
	giveUps       atomic.Int64
	workerErrors  atomic.Int64

	// After mark(), the time of the first successful poll and the first
	// accepted update (unix nanoseconds, 0 until then).
	markAt       atomic.Int64
	firstPollOK  atomic.Int64
	firstUpdOK   atomic.Int64
	lastUpdateOK atomic.Int64
}

func newProbe() *probe { return &probe{runs: map[string]int{}} }

func (p *probe) executed(id string) {
	p.mu.Lock()
	p.runs[id]++
	p.mu.Unlock()
}

func (p *probe) executedIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.runs))
	for id := range p.runs {
		ids = append(ids, id)
	}
	return ids
}

// executions counts the handler calls for the task ids in only (all when
// nil) and the duplicates among them.
func (p *probe) executions(only map[string]bool) (total, dups int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, n := range p.runs {
		if only != nil && !only[id] {
			continue
		}
		total += n
		dups += n - 1
	}
	return total, dups
}

func (p *probe) hooks() worker.Hooks {
	return worker.Hooks{
		OnUpdateFailed: func(_ *model.TaskResult, err error, _ int) {
			p.updateRetries.Add(1)
			errTexts.add(err)
		},
		OnUpdateGaveUp: func(_ *model.TaskResult, err error) {
			p.giveUps.Add(1)
			errTexts.add(err)
		},
		OnWorkerError: func(_ string, err error) {
			p.workerErrors.Add(1)
			errTexts.add(err)
		},
	}
}

// mark starts the recovery clock: the first successes after it are noted.
func (p *probe) mark() time.Time {
	now := time.Now()
	p.firstPollOK.Store(0)
	p.firstUpdOK.Store(0)
	p.markAt.Store(now.UnixNano())
	return now
}

// recovery returns how long after mark() the first poll and the first
// update succeeded (-1 when none did yet).
func (p *probe) recovery() (poll, update time.Duration) {
	m := p.markAt.Load()
	since := func(v int64) time.Duration {
		if v == 0 {
			return -1
		}
		return time.Duration(v - m)
	}
	return since(p.firstPollOK.Load()), since(p.firstUpdOK.Load())
}

// probeRecorder passes every measurement on to the Prometheus recorder and
// notes the times of successes and the count of failed polls.
type probeRecorder struct {
	worker.Recorder
	p *probe
}

func (r *probeRecorder) PollDone(taskType string, tasks int, d time.Duration, errKind worker.ErrorKind) {
	r.Recorder.PollDone(taskType, tasks, d, errKind)
	if errKind != "" {
		r.p.pollErrors.Add(1)
		return
	}
	if r.p.markAt.Load() != 0 {
		r.p.firstPollOK.CompareAndSwap(0, time.Now().UnixNano())
	}
}

func (r *probeRecorder) UpdateDone(taskType string, d time.Duration, errKind worker.ErrorKind) {
	r.Recorder.UpdateDone(taskType, d, errKind)
	if errKind != "" {
		return
	}
	now := time.Now().UnixNano()
	r.p.lastUpdateOK.Store(now)
	if r.p.markAt.Load() != 0 {
		r.p.firstUpdOK.CompareAndSwap(0, now)
	}
}

// counter sums the samples of a counter family on the env's registry whose
// labels include every pair in match.
func (e *env) counter(name string, match map[string]string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelsMatch(m, match) && m.GetCounter() != nil {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func labelsMatch(m *dto.Metric, match map[string]string) bool {
	for k, v := range match {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == k && lp.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
