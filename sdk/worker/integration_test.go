package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// Integration tests: the runner over the real client against the in-memory
// dev server, with outcomes asserted from the server's side.

type itEnv struct {
	srv  *conductortest.Server
	api  *client.APIClient
	logs *logtest.Hook
}

func newITEnv(t testing.TB) *itEnv {
	t.Helper()
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional())
	t.Cleanup(srv.Close)
	_, hook := logtest.NewNullLogger()
	return &itEnv{srv: srv, api: client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL())), logs: hook}
}

func (e *itEnv) runner(t testing.TB, opts ...Option) *TaskRunner {
	t.Helper()
	logger := logrus.New()
	logger.SetOutput(discard{})
	logger.AddHook(e.logs)
	all := append([]Option{WithLogger(logger)}, opts...)
	r := NewTaskRunnerWithApiClient(e.api, all...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
		r.WaitWorkers()
	})
	return r
}

// defineSequence registers workflow name with n SIMPLE tasks of taskType,
// task k getting input {"k": k}.
func (e *itEnv) defineSequence(t testing.TB, name, taskType string, n int, def *model.TaskDef) {
	t.Helper()
	if def != nil {
		if err := e.srv.RegisterTaskDefs(*def); err != nil {
			t.Fatal(err)
		}
	}
	wd := model.WorkflowDef{Name: name, Version: 1, SchemaVersion: 2}
	for k := 0; k < n; k++ {
		wd.Tasks = append(wd.Tasks, model.WorkflowTask{
			Name: taskType, TaskReferenceName: fmt.Sprintf("%s_%d", taskType, k), Type: "SIMPLE",
			InputParameters: map[string]interface{}{"k": k},
		})
	}
	if err := e.srv.RegisterWorkflowDef(wd); err != nil {
		t.Fatal(err)
	}
}

func (e *itEnv) start(t testing.TB, name string, n int, taskToDomain map[string]string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := e.srv.StartWorkflow(model.StartWorkflowRequest{Name: name, Version: 1, Input: map[string]interface{}{"n": i}, TaskToDomain: taskToDomain})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func (e *itEnv) wait(t testing.TB, d time.Duration, ids []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := e.srv.WaitWorkflows(ctx, ids...); err != nil {
		done := 0
		var pending []string
		for _, id := range ids {
			wf, ok := e.srv.Workflow(id)
			if ok && wf.Status.Terminal() {
				done++
				continue
			}
			if len(pending) < 5 && len(wf.Tasks) > 0 {
				tk := wf.Tasks[len(wf.Tasks)-1]
				pending = append(pending, fmt.Sprintf("%s: task %s %s polls=%d updates=%d", id, tk.TaskId, tk.Status, tk.PollCount, len(e.srv.Updates(tk.TaskId))))
			}
		}
		t.Fatalf("waiting for workflows: %v (%d of %d ended); pending: %s", err, done, len(ids), strings.Join(pending, "; "))
	}
}

// double is the handler of the exactly-once tests: output = 2k.
func double(runs *sync.Map) HandlerFunc {
	return func(_ context.Context, t *model.Task) (interface{}, error) {
		if n, _ := runs.LoadOrStore(t.TaskId, new(atomic.Int32)); n.(*atomic.Int32).Add(1) > 1 {
			return nil, fmt.Errorf("task %s executed twice", t.TaskId)
		}
		k, _ := t.InputData["k"].(float64)
		return map[string]interface{}{"double": 2 * k}, nil
	}
}

// checkExactlyOnce asserts from the server that every workflow completed and
// every task of it completed once, by one update, with output 2k.
func (e *itEnv) checkExactlyOnce(t testing.TB, ids []string, tasksPer int) {
	t.Helper()
	for _, id := range ids {
		wf, ok := e.srv.Workflow(id)
		if !ok || wf.Status != model.WorkflowCompleted {
			t.Fatalf("workflow %s: %v", id, wf.Status)
		}
		if len(wf.Tasks) != tasksPer {
			t.Fatalf("workflow %s has %d tasks, want %d (a retry means a lost or failed result)", id, len(wf.Tasks), tasksPer)
		}
		for _, tk := range wf.Tasks {
			k, _ := tk.InputData["k"].(float64)
			if tk.Status != model.TaskCompleted || tk.PollCount != 1 || fmt.Sprint(tk.OutputData["double"]) != fmt.Sprint(2*k) {
				t.Fatalf("task %s: status %s, polls %d, output %v (input k=%v)", tk.TaskId, tk.Status, tk.PollCount, tk.OutputData, k)
			}
			if ups := e.srv.Updates(tk.TaskId); len(ups) != 1 {
				t.Fatalf("task %s: %d updates, want 1", tk.TaskId, len(ups))
			}
		}
	}
}

// Done means 1: 10,000 tasks as one-task workflows and as 50 workflows of 200
// sequential tasks complete exactly once with correct outputs, at batch sizes
// 1, 10 and 100. -race runs a fifth of it; -short, the developer loop, a
// token 200 single tasks and 5 sequences of 40 (the full sizes run under
// make test and CI).
func TestITExactlyOnce(t *testing.T) {
	t.Parallel() // own dev server; mostly waiting on callbacks and timeouts
	single, seqWF, seqLen := 10000, 50, 200
	switch {
	case testing.Short():
		single, seqWF, seqLen = 200, 5, 40
	case raceEnabled:
		single, seqWF, seqLen = 2000, 10, 200
	}
	for _, batch := range []int{1, 10, 100} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			// Each batch size has its own dev server, and the run is
			// mostly waiting for pickups and updates, not CPU: the three
			// go side by side.
			t.Parallel()
			e := newITEnv(t)
			e.defineSequence(t, "one", "one_task", 1, nil)
			e.defineSequence(t, "seq", "seq_task", seqLen, nil)
			r := e.runner(t)
			var runs sync.Map
			if err := r.Start("one_task", double(&runs), BatchSize(batch)); err != nil {
				t.Fatal(err)
			}
			if err := r.Start("seq_task", double(&runs), BatchSize(batch)); err != nil {
				t.Fatal(err)
			}
			ones := e.start(t, "one", single, nil)
			seqs := e.start(t, "seq", seqWF, nil)
			e.wait(t, 5*time.Minute, append(append([]string(nil), ones...), seqs...))
			e.checkExactlyOnce(t, ones, 1)
			e.checkExactlyOnce(t, seqs, seqLen)
			if st := e.srv.Stats(); st.Retries != 0 || st.Timeouts != 0 {
				t.Fatalf("server retried %d and timed out %d tasks", st.Retries, st.Timeouts)
			}
			for _, w := range r.Workers() {
				if w.UpdateGiveUps != 0 || w.Failures != 0 {
					t.Fatalf("worker %+v", w)
				}
			}
		})
	}
}

// Done means 2: IN_PROGRESS with a 1 s callback twice, then COMPLETED: the
// server saw 3 polls of the task and 3 updates.
func TestITInProgressCallback(t *testing.T) {
	t.Parallel() // own dev server; mostly waiting on callbacks and timeouts
	e := newITEnv(t)
	e.defineSequence(t, "cb", "cb_task", 1, nil)
	r := e.runner(t, WithPollTimeout(time.Second))
	h := func(_ context.Context, tk *model.Task) (interface{}, error) {
		if tk.PollCount < 3 {
			res := model.NewTaskResult(tk)
			res.Status = model.InProgressTask
			res.CallbackAfterSeconds = 1
			res.OutputData = map[string]interface{}{"round": tk.PollCount}
			return res, nil
		}
		return map[string]interface{}{"round": tk.PollCount, "done": true}, nil
	}
	if err := r.Start("cb_task", h); err != nil {
		t.Fatal(err)
	}
	ids := e.start(t, "cb", 1, nil)
	e.wait(t, 30*time.Second, ids)
	wf, _ := e.srv.Workflow(ids[0])
	tk := wf.Tasks[0]
	if wf.Status != model.WorkflowCompleted || tk.Status != model.TaskCompleted || tk.PollCount != 3 {
		t.Fatalf("workflow %s, task %s with %d polls", wf.Status, tk.Status, tk.PollCount)
	}
	ups := e.srv.Updates(tk.TaskId)
	if len(ups) != 3 || ups[0].Status != model.InProgressTask || ups[0].CallbackAfterSeconds != 1 || ups[2].Status != model.CompletedTask {
		t.Fatalf("updates %+v", ups)
	}
}

// Done means 3: the server is down for 20 s in the middle of 2,000 tasks, and
// answers 10% of polls and updates with 503 afterwards: every task completes,
// no result is lost, and polling resumes within one backoff cap.
var outageFor, outageWait = 20 * time.Second, 3 * time.Minute
var outageOpts []Option

func TestITOutageAndErrors(t *testing.T) {
	t.Parallel() // own dev server; mostly waiting on callbacks and timeouts
	if testing.Short() {
		t.Skip("20 s outage")
	}
	e := newITEnv(t)
	// A task in an answer cut by the outage is lost in transit (the server
	// acknowledged it when it handed it out) until its response timeout: keep
	// that short so the server re-delivers it within the test.
	e.defineSequence(t, "out", "out_task", 1, &model.TaskDef{Name: "out_task", RetryCount: 3, RetryDelaySeconds: 0, ResponseTimeoutSeconds: 5, TimeoutPolicy: model.TimeoutPolicyRetry})
	r := e.runner(t, outageOpts...)
	var runs sync.Map
	var done atomic.Int32
	h := func(ctx context.Context, tk *model.Task) (interface{}, error) {
		out, err := double(&runs)(ctx, tk)
		done.Add(1)
		time.Sleep(2 * time.Millisecond) // keep the run long enough to be cut in the middle
		return out, err
	}
	if err := r.Start("out_task", h, BatchSize(20)); err != nil {
		t.Fatal(err)
	}
	ids := e.start(t, "out", 2000, nil)
	waitFor(t, 2*time.Minute, "600 tasks to have run before the outage", func() bool { return done.Load() >= 600 })
	e.srv.Down(0) // until Up
	time.Sleep(outageFor)
	e.srv.SetFaults(conductortest.Faults{
		"poll":   {ErrorRate: 0.1, Statuses: []int{503}},
		"update": {ErrorRate: 0.1, Statuses: []int{503}},
	})
	before := e.srv.Stats()
	back := time.Now()
	if err := e.srv.Up(); err != nil {
		t.Fatal(err)
	}
	// Recovered = the server has processed a request of the runner again.
	// How soon is the backoff's business, checked on synctest's clock by
	// TestPollErrorsBackOffAndRecover (no wait between failed polls exceeds
	// pollBackoffMax); here it must happen, and the time is reported.
	waitFor(t, time.Minute, "a request of the runner after the server came back", func() bool {
		st := e.srv.Stats()
		return st.Polls > before.Polls || st.Updates > before.Updates
	})
	t.Logf("first request processed %v after the server came back (backoff cap %v)", time.Since(back), pollBackoffMax)
	e.wait(t, outageWait, ids)
	for _, id := range ids {
		wf, _ := e.srv.Workflow(id)
		if wf.Status != model.WorkflowCompleted {
			t.Fatalf("workflow %s ended %s", id, wf.Status)
		}
		if tk := wf.Tasks[len(wf.Tasks)-1]; tk.Status != model.TaskCompleted {
			t.Fatalf("workflow %s: last task %s", id, tk.Status)
		}
	}
	var received uint64
	for _, w := range r.Workers() {
		received += w.Tasks
	}
	st := e.srv.Stats()
	var giveUps uint64
	for _, w := range r.Workers() {
		giveUps += w.UpdateGiveUps
	}
	if giveUps != 0 {
		t.Fatalf("%d results given up", giveUps)
	}
	if st.InjectedErrors == 0 {
		t.Fatal("no 503 was injected")
	}
	// No result lost: once the runner has drained, the server has received
	// an update for every task a handler ran (late ones, for tasks it had
	// timed out meanwhile, included).
	drainCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Shutdown(drainCtx); err != nil {
		t.Fatalf("drain: %v", err)
	}
	executed := 0
	runs.Range(func(k, _ any) bool {
		executed++
		if len(e.srv.Updates(k.(string))) == 0 {
			t.Errorf("task %s ran but the server never got its result", k)
		}
		return true
	})
	// Errors are rate-limited per worker: a 20 s outage and a stream of
	// 503s give a bounded number of lines, not one per failed request.
	warnLines := 0
	for _, en := range e.logs.AllEntries() {
		if en.Level <= logrus.WarnLevel {
			warnLines++
		}
	}
	if warnLines > 30 {
		t.Errorf("%d warn/error lines for one outage", warnLines)
	}
	t.Logf("%d log lines at warn or above", warnLines)
	t.Logf("tasks handed out %d, received and run %d/%d (lost in transit: %d); injected 503s: %d; server timeouts %d and retries %d (results late by the outage, or lost in transit)",
		st.TasksHandedOut, received, executed, st.TasksHandedOut-int64(received), st.InjectedErrors, st.Timeouts, st.Retries)
}

// Done means 4: handlers that panic, return unserialisable output, or block
// past shutdown.
func TestITBadHandlers(t *testing.T) {
	t.Parallel() // own dev server; mostly waiting on callbacks and timeouts
	e := newITEnv(t)
	def := func(name string) *model.TaskDef {
		return &model.TaskDef{Name: name, RetryCount: 0, ResponseTimeoutSeconds: 1, TimeoutPolicy: model.TimeoutPolicyRetry}
	}
	e.defineSequence(t, "panics", "panic_task", 1, def("panic_task"))
	e.defineSequence(t, "weird", "weird_task", 1, def("weird_task"))
	e.defineSequence(t, "stuck", "stuck_task", 1, def("stuck_task"))
	r := e.runner(t)
	if err := r.Start("panic_task", func(context.Context, *model.Task) (interface{}, error) { panic("wheels came off") }); err != nil {
		t.Fatal(err)
	}
	if err := r.Start("weird_task", func(context.Context, *model.Task) (interface{}, error) {
		return map[string]interface{}{"f": func() {}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	if err := r.Start("stuck_task", func(context.Context, *model.Task) (interface{}, error) {
		close(entered)
		<-release // ignores its context on purpose
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	p := e.start(t, "panics", 1, nil)
	w := e.start(t, "weird", 1, nil)
	s := e.start(t, "stuck", 1, nil)
	e.wait(t, 30*time.Second, append(p, w...))
	check := func(id string, status model.TaskStatus, want string) {
		wf, _ := e.srv.Workflow(id)
		tk := wf.Tasks[0]
		if wf.Status != model.WorkflowFailed || tk.Status != status || !strings.Contains(tk.ReasonForIncompletion, want) {
			t.Errorf("workflow %s %s, task %s, reason %q (want %s, %q)", id, wf.Status, tk.Status, tk.ReasonForIncompletion, status, want)
		}
	}
	check(p[0], model.TaskFailed, "handler panicked: wheels came off")
	// Retrying cannot fix an output that cannot be encoded: terminal, and
	// the reason names the field.
	check(w[0], model.TaskFailedWithTerminalError, `task output field "f"`)

	<-entered
	// That Shutdown returns at its deadline is TestShutdownDeadlineCancelsHandlers's
	// check, on synctest's clock; here it must return, with ErrShutdown.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- r.Shutdown(ctx) }()
	var err error
	select {
	case err = <-shut:
	case <-time.After(time.Minute):
		t.Fatal("Shutdown with a 1 s deadline had not returned after a minute")
	}
	if !errors.Is(err, ErrShutdown) {
		t.Fatalf("Shutdown returned %v, want ErrShutdown (the stuck handler was not drained)", err)
	}
	close(release)
	r.WaitWorkers()
	// The result of the stuck handler was abandoned at the deadline; the
	// server times the task out (responseTimeoutSeconds 1, no retries) and
	// fails the workflow, as it would after a crash.
	e.wait(t, 30*time.Second, s)
	wf, _ := e.srv.Workflow(s[0])
	if wf.Tasks[0].Status != model.TaskTimedOut {
		t.Fatalf("stuck task ended %s, want TIMED_OUT", wf.Tasks[0].Status)
	}
}

// Done means 5: pause/resume and batch-size changes act on the next poll;
// domain workers get only their domain's tasks.
func TestITPauseBatchSizeAndDomains(t *testing.T) {
	t.Parallel() // own dev server; mostly waiting on callbacks and timeouts
	e := newITEnv(t)
	e.defineSequence(t, "pb", "pb_task", 1, nil)
	r := e.runner(t, WithPollTimeout(200*time.Millisecond), WithWorkerID("main"))
	gate := make(chan struct{})
	var running atomic.Int32
	if err := r.Start("pb_task", func(context.Context, *model.Task) (interface{}, error) {
		running.Add(1)
		<-gate
		return nil, nil
	}, BatchSize(2)); err != nil {
		t.Fatal(err)
	}
	r.Pause("pb_task")
	waitFor(t, 30*time.Second, "the worker to be paused", func() bool { return r.Workers()[0].State == "paused" })
	// Parked in "paused", the poller has no poll out and makes none until a
	// setting or a slot changes (TestNoPollAfterPauseReturnsInIntervalMode
	// shows on a fake clock that it stays parked), so the server sees no poll
	// while the tasks are queued.
	polls := e.srv.Stats().Polls
	ids := e.start(t, "pb", 10, nil)
	if q, p := e.srv.QueueSize("pb_task", ""), e.srv.Stats().Polls; q != 10 || running.Load() != 0 || p != polls {
		t.Fatalf("paused worker polled or took tasks: queue %d, running %d, polls %d -> %d", q, running.Load(), polls, p)
	}
	r.Resume("pb_task")
	waitFor(t, 30*time.Second, "2 tasks running after Resume", func() bool { return running.Load() == 2 })
	if err := r.SetBatchSize("pb_task", 6); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "6 tasks running after SetBatchSize(6)", func() bool { return running.Load() == 6 })
	if q := e.srv.QueueSize("pb_task", ""); q != 4 {
		t.Fatalf("queue %d after 6 taken", q)
	}
	close(gate)
	e.wait(t, 30*time.Second, ids)

	// Domains: a second runner polls domain "eu" only.
	e.defineSequence(t, "dm", "dm_task", 1, nil)
	eu := e.runner(t, WithPollTimeout(200*time.Millisecond), WithWorkerID("eu-worker"))
	noop := func(context.Context, *model.Task) (interface{}, error) { return nil, nil }
	if err := eu.Start("dm_task", noop, Domain("eu")); err != nil {
		t.Fatal(err)
	}
	if err := r.Start("dm_task", noop); err != nil {
		t.Fatal(err)
	}
	euIDs := e.start(t, "dm", 20, map[string]string{"dm_task": "eu"})
	plain := e.start(t, "dm", 20, nil)
	e.wait(t, 30*time.Second, append(append([]string(nil), euIDs...), plain...))
	for _, id := range euIDs {
		wf, _ := e.srv.Workflow(id)
		if tk := wf.Tasks[0]; tk.Domain != "eu" || tk.WorkerId != "eu-worker" {
			t.Fatalf("eu task %s: domain %q worker %q", tk.TaskId, tk.Domain, tk.WorkerId)
		}
	}
	for _, id := range plain {
		wf, _ := e.srv.Workflow(id)
		if tk := wf.Tasks[0]; tk.Domain != "" || tk.WorkerId != "main" {
			t.Fatalf("plain task %s: domain %q worker %q", tk.TaskId, tk.Domain, tk.WorkerId)
		}
	}
}

// Done means 6: a 3 s handler on a task with responseTimeoutSeconds 2
// completes without a timeout thanks to lease extension.
func TestITLeaseExtension(t *testing.T) {
	t.Parallel() // own dev server; mostly waiting on callbacks and timeouts
	e := newITEnv(t)
	e.defineSequence(t, "lease", "lease_task", 1, &model.TaskDef{Name: "lease_task", RetryCount: 0, ResponseTimeoutSeconds: 2, TimeoutPolicy: model.TimeoutPolicyRetry})
	r := e.runner(t)
	if err := r.Start("lease_task", func(ctx context.Context, _ *model.Task) (interface{}, error) {
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return map[string]interface{}{"slow": true}, nil
	}); err != nil {
		t.Fatal(err)
	}
	ids := e.start(t, "lease", 1, nil)
	e.wait(t, 30*time.Second, ids)
	wf, _ := e.srv.Workflow(ids[0])
	st := e.srv.Stats()
	if wf.Status != model.WorkflowCompleted || len(wf.Tasks) != 1 || wf.Tasks[0].Status != model.TaskCompleted {
		t.Fatalf("workflow %s with %d tasks", wf.Status, len(wf.Tasks))
	}
	if st.Timeouts != 0 || st.ExtendLeases < 2 {
		t.Fatalf("server: %d timeouts, %d lease extensions", st.Timeouts, st.ExtendLeases)
	}
}
