package realfaults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/metrics"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

// server is the real Conductor that test/conductor/run.sh started.
type server struct {
	apiURL       string // CONDUCTOR_SERVER_URL, ends in /api
	root         string // apiURL without /api: /health lives there
	version      string // CONDUCTOR_SERVER_VERSION, e.g. 3.32.3
	store        string // CONDUCTOR_SERVER_STORE: where the queues are (redis, sqlite)
	data         string // CONDUCTOR_SERVER_DATA: where workflows are (memory, redis, sqlite)
	restart      string // CONDUCTOR_SERVER_RESTART: kill -9 / start the server
	redisRestart string // CONDUCTOR_REDIS_RESTART: the same for its Redis ("" without one)
}

func (s server) String() string {
	return fmt.Sprintf("Conductor %s (queues in %s, workflows in %s)", s.version, s.store, s.data)
}

// needServer skips the test unless test/conductor/run.sh started a server
// for it: CONDUCTOR_SERVER_URL alone may name a server of the user's (an
// Orkes cluster, say), which these tests must not restart or flood.
func needServer(t *testing.T) server {
	t.Helper()
	u := os.Getenv("CONDUCTOR_SERVER_URL")
	if u == "" || os.Getenv("CONDUCTOR_SERVER_RESTART") == "" {
		t.Skip("needs a real Conductor server started by test/conductor/run.sh (CONDUCTOR_SERVER_URL and CONDUCTOR_SERVER_RESTART): run `make test-conductor-faults`")
	}
	u = strings.TrimSuffix(u, "/")
	return server{
		apiURL:       u,
		root:         strings.TrimSuffix(u, "/api"),
		version:      os.Getenv("CONDUCTOR_SERVER_VERSION"),
		store:        os.Getenv("CONDUCTOR_SERVER_STORE"),
		data:         os.Getenv("CONDUCTOR_SERVER_DATA"),
		restart:      os.Getenv("CONDUCTOR_SERVER_RESTART"),
		redisRestart: os.Getenv("CONDUCTOR_REDIS_RESTART"),
	}
}

// Knobs (environment variables) and their defaults.
func workflowsKnob(t *testing.T) int {
	return intKnob(t, "REALFAULTS_WORKFLOWS", 500)
}

// responseTimeoutKnob is the responseTimeoutSeconds of the tasks in the
// restart scenarios. A task whose poll answer the fault cut off is handed out
// again only after it; results held by the worker while the server is down
// are wanted only if they arrive before it.
func responseTimeoutKnob(t *testing.T) int {
	return intKnob(t, "REALFAULTS_RESPONSE_TIMEOUT", 90)
}

func intKnob(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

// completionDeadline bounds the wait for every workflow to end: generous, so
// that a loaded machine does not fail a run; it is a failure message, not a
// speed requirement.
const completionDeadline = 15 * time.Minute

var runID = randomHex(4)

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// rig is one scenario's workload: a task type and its one-task workflow on
// the server, a control client that talks to the server directly (to start
// and inspect workflows), and what the workers did, seen from three sides:
// the handler (executions and their tokens), the HTTP transport (every
// update and the answer it got) and the runner's hooks and metrics.
type rig struct {
	t        *testing.T
	name     string
	srv      server
	taskType string
	wfName   string
	ctl      *client.APIClient
	log      logrus.FieldLogger
	reg      *prometheus.Registry
	prom     *metrics.Prometheus
	rec      *recorder
	probe    *probe

	mu sync.Mutex
	k  map[string]int // workflow id -> its input k
}

// newRig registers task type rf_<name>_<run> with def's settings and a
// workflow of one task of that type.
func newRig(t *testing.T, srv server, name string, def model.TaskDef) *rig {
	t.Helper()
	logger := logrus.New()
	logger.SetOutput(os.Stderr)
	logger.SetLevel(logrus.WarnLevel)
	ctl, err := client.New(nil, settings.NewHttpSettings(srv.apiURL), client.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.CloseIdleConnections)
	reg := prometheus.NewRegistry()
	prom, err := metrics.NewPrometheus(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{
		t: t, name: name, srv: srv, ctl: ctl,
		taskType: fmt.Sprintf("rf_%s_%s", name, runID),
		log:      logger.WithField("scenario", name),
		reg:      reg, prom: prom,
		rec:   newRecorder(http.DefaultTransport.(*http.Transport).Clone()),
		probe: newProbe(),
		k:     map[string]int{},
	}
	r.wfName = r.taskType + "_wf"
	def.Name = r.taskType
	def.OwnerEmail = "baton-realfaults@example.com"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := executor.NewWorkflowExecutor(ctl).RegisterTaskDefsContext(ctx, def); err != nil {
		t.Fatalf("register task %s: %v", def.Name, err)
	}
	wd := model.WorkflowDef{Name: r.wfName, Version: 1, SchemaVersion: 2, OwnerEmail: def.OwnerEmail,
		Tasks: []model.WorkflowTask{{Name: r.taskType, TaskReferenceName: "only", Type: model.TaskTypeSimple,
			InputParameters: map[string]interface{}{"k": "${workflow.input.k}"}}}}
	if err := executor.NewWorkflowExecutor(ctl).RegisterWorkflowContext(ctx, false, &wd); err != nil {
		t.Fatalf("register workflow %s: %v", wd.Name, err)
	}
	return r
}

// taskDef is the definition every scenario starts from: retried at once
// when the server times a task out, so a task lost by a fault comes back
// after responseTimeout seconds.
func taskDef(responseTimeout int) model.TaskDef {
	return model.TaskDef{RetryCount: 5, RetryLogic: model.RetryFixed, RetryDelaySeconds: 0,
		ResponseTimeoutSeconds: int64(responseTimeout), TimeoutPolicy: model.TimeoutPolicyTimeOutWF,
		RateLimitFrequencyInSeconds: 1, BackoffScaleFactor: 1}
}

// start starts n workflows (k = 0..n-1), eight at a time, straight on the
// server, and returns their ids.
func (r *rig) start(n int) []string {
	r.t.Helper()
	ids := make([]string, n)
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(8)
	for i := range ids {
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			id, err := executor.NewWorkflowExecutor(r.ctl).StartWorkflowContext(cctx, &model.StartWorkflowRequest{Name: r.wfName, Version: 1,
				Input: map[string]interface{}{"k": i}})
			if err != nil {
				return fmt.Errorf("start workflow %d of %d: %w", i+1, n, err)
			}
			ids[i] = id
			r.mu.Lock()
			r.k[id] = i
			r.mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		r.t.Fatal(err)
	}
	return ids
}

// workerClient is the client the workers use: through base (the server or a
// proxy in front of it), each request capped at timeout, with the recorder
// as its transport and the rig's metrics as its observer.
func (r *rig) workerClient(base string, timeout time.Duration) *client.APIClient {
	r.t.Helper()
	hs := settings.NewHttpSettings(base)
	hs.Timeout = timeout
	api, err := client.New(nil, hs, client.WithHTTPClient(&http.Client{Transport: r.rec}),
		client.WithLogger(r.log), client.WithObserver(r.prom))
	if err != nil {
		r.t.Fatal(err)
	}
	return api
}

// runner returns a runner on api with the rig's logger, metrics and hooks;
// it is shut down when the test ends unless stop was called before.
func (r *rig) runner(api *client.APIClient, opts ...worker.Option) *stoppable {
	r.t.Helper()
	all := append([]worker.Option{
		worker.WithLogger(r.log),
		worker.WithMetrics(&probeRecorder{Recorder: r.prom, p: r.probe}),
		worker.WithHooks(r.probe.hooks()),
		worker.WithWorkerID("realfaults-" + r.name + "-" + runID),
	}, opts...)
	s := &stoppable{TaskRunner: worker.NewTaskRunnerWithApiClient(api, all...), api: api}
	r.t.Cleanup(func() {
		if err := s.stop(); err != nil {
			r.t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// stoppable is a runner whose shutdown can be asked for twice.
type stoppable struct {
	*worker.TaskRunner
	api  *client.APIClient
	once sync.Once
	err  error
}

// stop shuts the runner down (a minute for draining), waits for every one of
// its goroutines and closes the client's idle connections.
func (s *stoppable) stop() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.err = s.Shutdown(ctx)
		s.WaitWorkers()
		s.api.CloseIdleConnections()
	})
	return s.err
}

// handler is the workers' handler: each execution draws a fresh token,
// records it, works for work and returns {"token", "double": 2k}. The token
// says, on the server, which execution's result was applied.
func (r *rig) handler(work time.Duration) worker.HandlerFunc {
	return func(ctx context.Context, t *model.Task) (interface{}, error) {
		tok := randomHex(8)
		r.probe.executed(t.TaskId, tok)
		if work > 0 {
			time.Sleep(work)
		}
		k, _ := t.InputData["k"].(float64)
		return map[string]interface{}{"token": tok, "double": 2 * k}, nil
	}
}

// waitProgress blocks until the workers had results accepted for at least n
// tasks.
func (r *rig) waitProgress(n int, within time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for r.rec.ackedTasks() < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("after %s only %d of the %d results wanted were accepted (update errors %d, poll errors %d)",
				within, r.rec.ackedTasks(), n, r.probe.updateFailed.Load(), r.probe.pollErrors.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// getWorkflow reads a workflow with its tasks straight from the server,
// trying a few times: the server may be busy or just back.
func (r *rig) getWorkflow(id string) (*model.Workflow, error) {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var wf *model.Workflow
		wf, err = executor.NewWorkflowExecutor(r.ctl).GetWorkflowContext(ctx, id, true)
		cancel()
		if err == nil {
			return wf, nil
		}
	}
	return nil, err
}

// workflows reads ids from the server, eight at a time.
func (r *rig) workflows(ids []string) map[string]*model.Workflow {
	r.t.Helper()
	out := make(map[string]*model.Workflow, len(ids))
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(8)
	for _, id := range ids {
		g.Go(func() error {
			wf, err := r.getWorkflow(id)
			if err != nil {
				return fmt.Errorf("get workflow %s: %w", id, err)
			}
			mu.Lock()
			out[id] = wf
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// waitEnded blocks until every workflow of ids has ended (or within passes,
// which fails the test with a description of some that did not). It reads
// the server only when the workers have reported a result for every
// workflow or have stopped making progress, so the check does not load the
// server during the run.
func (r *rig) waitEnded(ids []string, within time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	pending := ids
	lastAcked, lastChange := -1, time.Now()
	var last map[string]*model.Workflow
	for {
		acked := r.rec.ackedTasks()
		if acked != lastAcked {
			lastAcked, lastChange = acked, time.Now()
		}
		if acked < len(ids) && time.Since(lastChange) < 10*time.Second && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
			continue
		}
		last = r.workflows(pending)
		var still []string
		for _, id := range pending {
			if !last[id].Status.Terminal() {
				still = append(still, id)
			}
		}
		pending = still
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var sample []string
			for _, id := range pending[:min(5, len(pending))] {
				sample = append(sample, id+": "+describe(last[id]))
			}
			r.t.Fatalf("after %s, %d of %d workflows have not ended; for example:\n  %s",
				within, len(pending), len(ids), strings.Join(sample, "\n  "))
		}
		time.Sleep(3 * time.Second)
	}
}

func describe(wf *model.Workflow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", wf.Status)
	if wf.ReasonForIncompletion != "" {
		fmt.Fprintf(&b, " (%.120s)", wf.ReasonForIncompletion)
	}
	for _, tk := range wf.Tasks {
		fmt.Fprintf(&b, " [%s %s polls=%d retry=%d]", tk.TaskId, tk.Status, tk.PollCount, tk.RetryCount)
	}
	return b.String()
}

// settle waits until no slot of the runner is in use: a slot is released
// only once its result was delivered (or given up), so no update is on its
// way after it.
func (r *rig) settle(tr *stoppable) {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		busy := 0
		for _, w := range tr.Workers() {
			busy += w.SlotsInUse
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d slots still in use 2 minutes after every workflow ended", busy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// report is what a scenario measured. The first group is Baton's part and
// must be 0 in every scenario; the second is what the server did on its own,
// which the scenarios report and explain.
type report struct {
	Workflows int // workflows started
	Completed int // workflows COMPLETED
	// Lost counts results a handler produced that the server never accepted
	// (no 2xx), results accepted that the server does not show and cannot
	// explain, and workflows left unfinished with such a result in them.
	Lost    int
	GiveUps int64

	// Executions counts handler calls; Duplicates the calls beyond the first
	// for one task id (the server handed the same task out twice).
	Executions, Duplicates int
	// Redelivered counts task instances the server timed out and replaced by
	// a retry (their poll answer or their result was lost with the fault).
	Redelivered int
	// Late counts results accepted (2xx) after the server had timed their
	// task out: Conductor answers 200 and ignores them. TimedOutAfterAccept
	// counts results the server accepted and then overwrote with TIMED_OUT
	// (its sweeper raced the update).
	Late, TimedOutAfterAccept int
	// Overwritten counts tasks the server completed with one execution's
	// result after it had accepted another execution's: the server handed
	// the task out twice and applied both results.
	Overwritten int
	// RanTwice counts workflows that completed more than one instance of
	// their only task (the timed-out one and its retry).
	RanTwice int
	// ServerFailed counts workflows the server failed on its own, no result
	// of ours in them dropped (e.g. SQLITE_BUSY while scheduling a task);
	// ServerReasons says why.
	ServerFailed  int
	ServerReasons map[string]int

	// UpdateAttempts counts result posts, AcceptedUpdates those answered
	// 2xx, ExtraAccepted the 2xx beyond the first for one task, UpdateRetries
	// the failed attempts the runner retried.
	UpdateAttempts, AcceptedUpdates, ExtraAccepted int
	UpdateRetries, PollErrors                      int64
}

func (p report) String() string {
	reasons := ""
	if len(p.ServerReasons) > 0 {
		var parts []string
		for k, v := range p.ServerReasons {
			parts = append(parts, fmt.Sprintf("%dx %q", v, k))
		}
		sort.Strings(parts)
		reasons = " (" + strings.Join(parts, "; ") + ")"
	}
	return fmt.Sprintf("workflows=%d completed=%d lost=%d giveUps=%d | executions=%d duplicates=%d redelivered=%d late=%d "+
		"timedOutAfterAccept=%d overwritten=%d ranTwice=%d serverFailed=%d%s | updateAttempts=%d accepted=%d extraAccepted=%d "+
		"updateRetries=%d pollErrors=%d",
		p.Workflows, p.Completed, p.Lost, p.GiveUps, p.Executions, p.Duplicates, p.Redelivered, p.Late,
		p.TimedOutAfterAccept, p.Overwritten, p.RanTwice, p.ServerFailed, reasons, p.UpdateAttempts, p.AcceptedUpdates,
		p.ExtraAccepted, p.UpdateRetries, p.PollErrors)
}

// audit reads every workflow of ids from the server and checks each task
// instance in them against what the workers did:
//   - a task a handler ran had a result accepted (2xx);
//   - a COMPLETED task holds the output of one of our executions of it (its
//     token, and 2k); if the server had accepted another execution's result
//     before this one was even sent, that is counted as Overwritten;
//   - a result accepted is reflected: the task is COMPLETED with it, or the
//     server timed the task out (Late or TimedOutAfterAccept);
//   - a workflow that did not complete is the server's own failure
//     (ServerFailed) only if no result of ours in it was dropped.
//
// It fails the test for anything in Baton's part and returns the counts.
func (r *rig) audit(ids []string) report {
	r.t.Helper()
	rep := report{Workflows: len(ids), ServerReasons: map[string]int{}}
	var problems []string
	problem := func(format string, args ...interface{}) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	wfs := r.workflows(ids)
	acks := r.rec.ackSnapshot()
	shown := 0
	for _, id := range ids {
		wf := wfs[id]
		r.mu.Lock()
		k := r.k[id]
		r.mu.Unlock()
		if len(wf.Tasks) > 1 && shown < 10 {
			shown++
			r.t.Logf("workflow %s (%s) with %d task instances: %s", id, wf.Status, len(wf.Tasks), r.taskStory(wf, acks))
		}
		completedTasks, lostHere := 0, 0
		for _, tk := range wf.Tasks {
			execs := r.probe.tokens(tk.TaskId)
			acked := acks[tk.TaskId]
			rep.Executions += len(execs)
			if len(execs) > 1 {
				rep.Duplicates += len(execs) - 1
			}
			if len(acked) > 1 {
				rep.ExtraAccepted += len(acked) - 1
			}
			if len(execs) > 0 && len(acked) == 0 {
				lostHere++
				problem("task %s (workflow %s) ran %d time(s) but no result was accepted; server status %s", tk.TaskId, id, len(execs), tk.Status)
			}
			end := time.UnixMilli(tk.EndTime)
			switch tk.Status {
			case model.TaskCompleted:
				completedTasks++
				tok, _ := tk.OutputData["token"].(string)
				if !contains(execs, tok) {
					lostHere++
					problem("task %s (workflow %s) is COMPLETED with token %q, which no execution of ours produced (executions %v)", tk.TaskId, id, tok, execs)
					continue
				}
				if fmt.Sprint(tk.OutputData["double"]) != fmt.Sprint(2*k) {
					lostHere++
					problem("task %s (workflow %s, k=%d): output %v", tk.TaskId, id, k, tk.OutputData)
				}
				held, ok := firstAck(acked, tok)
				if !ok {
					lostHere++
					problem("task %s (workflow %s) holds token %s, for which no post was accepted", tk.TaskId, id, tok)
					continue
				}
				for _, a := range acked {
					if a.token != tok && a.at.Before(held.sent) {
						rep.Overwritten++
						r.t.Logf("task %s (workflow %s): the server accepted result %s, then (handing the task out again) took %s, posted after that answer",
							tk.TaskId, id, a.token, tok)
						break
					}
				}
			case model.TaskTimedOut:
				rep.Redelivered++
				if len(acked) > 0 {
					if acked[0].at.Before(end) {
						rep.TimedOutAfterAccept++
					} else {
						rep.Late++
					}
				}
			default:
				if len(acked) > 0 {
					lostHere++
					problem("task %s (workflow %s) had a result accepted but is %s: %s", tk.TaskId, id, tk.Status, tk.ReasonForIncompletion)
				}
			}
		}
		if completedTasks > 1 {
			rep.RanTwice++
		}
		rep.Lost += lostHere
		switch {
		case wf.Status == model.WorkflowCompleted:
			rep.Completed++
		case lostHere == 0 && wf.Status.Terminal():
			rep.ServerFailed++
			reason := wf.ReasonForIncompletion
			if i := strings.Index(reason, ": ["); i > 0 {
				reason = reason[:i] // drop the ids
			}
			if reason == "" {
				reason = string(wf.Status) + " without a reason"
			}
			rep.ServerReasons[reason]++
			r.t.Logf("workflow %s (k=%d) was ended by the server, no result of ours in it dropped: %s %q: %s",
				id, k, wf.Status, wf.ReasonForIncompletion, describe(wf))
		default:
			rep.Lost++
			problem("workflow %s (k=%d) ended %s (%q): %s", id, k, wf.Status, wf.ReasonForIncompletion, describe(wf))
		}
	}
	rep.UpdateAttempts, rep.AcceptedUpdates = r.rec.updateCounts()
	rep.UpdateRetries = r.probe.updateFailed.Load()
	rep.PollErrors = r.probe.pollErrors.Load()
	rep.GiveUps = r.probe.giveUps.Load()
	for _, p := range problems {
		r.t.Error(p)
	}
	if rep.GiveUps != 0 {
		r.t.Errorf("the runner gave up on %d results", rep.GiveUps)
	}
	if rep.Lost != 0 {
		r.t.Errorf("%d lost: %s", rep.Lost, rep)
	}
	return rep
}

// firstAck returns the first accepted post of tok.
func firstAck(acks []ack, tok string) (ack, bool) {
	for _, a := range acks {
		if a.token == tok {
			return a, true
		}
	}
	return ack{}, false
}

// taskStory tells, for each task instance of wf, its status and what the
// workers did with it: how often they ran it and when its results were
// accepted, relative to the task's end on the server.
func (r *rig) taskStory(wf *model.Workflow, acks map[string][]ack) string {
	var parts []string
	for _, tk := range wf.Tasks {
		s := fmt.Sprintf("[%s %s polls=%d ran=%d", tk.TaskId, tk.Status, tk.PollCount, len(r.probe.tokens(tk.TaskId)))
		for _, a := range acks[tk.TaskId] {
			if tk.EndTime > 0 {
				s += fmt.Sprintf(" accepted %s after the task ended", ms(a.at.Sub(time.UnixMilli(tk.EndTime))))
			} else {
				s += " accepted"
			}
		}
		parts = append(parts, s+"]")
	}
	return strings.Join(parts, " ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ---- what the workers did ------------------------------------------------------------------

// probe counts what the runner did, through its handler, hooks and recorder.
type probe struct {
	mu   sync.Mutex
	runs map[string][]string // task id -> tokens of its executions, in order

	updateFailed atomic.Int64
	giveUps      atomic.Int64
	pollErrors   atomic.Int64
	workerErrors atomic.Int64

	// After mark(), the first poll that brought tasks and the first accepted
	// update (unix nanoseconds; 0 until then).
	markAt        atomic.Int64
	firstPollTask atomic.Int64
	firstUpdateOK atomic.Int64
}

func newProbe() *probe { return &probe{runs: map[string][]string{}} }

func (p *probe) executed(id, tok string) {
	p.mu.Lock()
	p.runs[id] = append(p.runs[id], tok)
	p.mu.Unlock()
}

func (p *probe) tokens(id string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.runs[id]...)
}

func (p *probe) hooks() worker.Hooks {
	return worker.Hooks{
		OnUpdateFailed: func(*model.TaskResult, error, int) { p.updateFailed.Add(1) },
		OnUpdateGaveUp: func(*model.TaskResult, error) { p.giveUps.Add(1) },
		OnWorkerError:  func(string, error) { p.workerErrors.Add(1) },
	}
}

// mark starts watching for the first successes after at.
func (p *probe) mark(at time.Time) {
	p.firstPollTask.Store(0)
	p.firstUpdateOK.Store(0)
	p.markAt.Store(at.UnixNano())
}

// moment is when something first happened, relative to a reference time
// (negative: before it); ok is false while it has not happened.
type moment struct {
	d  time.Duration
	ok bool
}

func (m moment) String() string {
	if !m.ok {
		return "never"
	}
	return m.d.Round(time.Millisecond).String()
}

// since returns, relative to t, when the first poll with tasks and the
// first accepted update came after the last mark.
func (p *probe) since(t time.Time) (poll, update moment) {
	at := func(v int64) moment {
		if v == 0 {
			return moment{}
		}
		return moment{d: time.Duration(v - t.UnixNano()), ok: true}
	}
	return at(p.firstPollTask.Load()), at(p.firstUpdateOK.Load())
}

// probeRecorder passes every measurement on to Prometheus and notes the
// first successes after a mark.
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
	if m := r.p.markAt.Load(); m != 0 && tasks > 0 {
		if now := time.Now().UnixNano(); now >= m {
			r.p.firstPollTask.CompareAndSwap(0, now)
		}
	}
}

func (r *probeRecorder) UpdateDone(taskType string, d time.Duration, errKind worker.ErrorKind) {
	r.Recorder.UpdateDone(taskType, d, errKind)
	if m := r.p.markAt.Load(); m != 0 && errKind == "" {
		if now := time.Now().UnixNano(); now >= m {
			r.p.firstUpdateOK.CompareAndSwap(0, now)
		}
	}
}

// counter sums a counter family of the rig's registry over the samples
// whose labels include match.
func (r *rig) counter(name string, match map[string]string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for k, v := range match {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			}
		}
	}
	return sum
}

// ---- the workers' HTTP traffic -------------------------------------------------------------

// recorder is the workers' transport: it passes every request on and notes
// each result posted (task id, the token in its output) with the status of
// the answer, counts answers by kind of request and status, and keeps the
// requests in flight (until their body is closed) to find any that outlive
// their deadline.
type recorder struct {
	base http.RoundTripper
	seq  atomic.Uint64

	mu       sync.Mutex
	inflight map[uint64]flight
	acks     map[string][]ack // task id -> results accepted, in order
	attempts int
	accepted int
	codes    map[string]map[int]int // poll/update/other -> status (0: no answer) -> count
}

type flight struct {
	start time.Time
	kind  string
	path  string
}

// ack is a result post answered 2xx: when it was sent and answered.
type ack struct {
	token    string
	sent, at time.Time
}

func newRecorder(base http.RoundTripper) *recorder {
	return &recorder{base: base, inflight: map[uint64]flight{}, acks: map[string][]ack{},
		codes: map[string]map[int]int{}}
}

// requestKind sorts a request into poll, update (a result posted) or other.
func requestKind(req *http.Request) string {
	p := req.URL.Path
	switch {
	case req.Method == http.MethodPost && (strings.HasSuffix(p, "/tasks") || strings.HasSuffix(p, "/tasks/update-v2")):
		return "update"
	case req.Method == http.MethodGet && strings.Contains(p, "/tasks/poll/"):
		return "poll"
	}
	return "other"
}

func (rc *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := requestKind(req)
	var res struct {
		TaskID      string                 `json:"taskId"`
		Status      string                 `json:"status"`
		ExtendLease bool                   `json:"extendLease"`
		Output      map[string]interface{} `json:"outputData"`
	}
	if kind == "update" && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		_ = json.Unmarshal(body, &res)
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		req.ContentLength = int64(len(body))
	}
	id := rc.seq.Add(1)
	sent := time.Now()
	rc.mu.Lock()
	rc.inflight[id] = flight{start: sent, kind: kind, path: req.URL.Path}
	rc.mu.Unlock()

	resp, err := rc.base.RoundTrip(req)

	code := 0
	if err == nil {
		code = resp.StatusCode
	}
	rc.mu.Lock()
	if rc.codes[kind] == nil {
		rc.codes[kind] = map[int]int{}
	}
	rc.codes[kind][code]++
	if kind == "update" && !res.ExtendLease && res.Status == string(model.CompletedTask) {
		rc.attempts++
		if code >= 200 && code < 300 {
			rc.accepted++
			tok, _ := res.Output["token"].(string)
			rc.acks[res.TaskID] = append(rc.acks[res.TaskID], ack{token: tok, sent: sent, at: time.Now()})
		}
	}
	if err != nil {
		delete(rc.inflight, id)
	}
	rc.mu.Unlock()
	if err != nil {
		return nil, err
	}
	resp.Body = &trackedBody{ReadCloser: resp.Body, done: func() {
		rc.mu.Lock()
		delete(rc.inflight, id)
		rc.mu.Unlock()
	}}
	return resp, nil
}

// trackedBody ends a request's flight when its body is closed.
type trackedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *trackedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

// CloseIdleConnections closes the idle connections of the transport below,
// so that the client's CloseIdleConnections reaches it.
func (rc *recorder) CloseIdleConnections() {
	if c, ok := rc.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// ackedTasks counts the tasks with at least one result accepted.
func (rc *recorder) ackedTasks() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.acks)
}

func (rc *recorder) ackSnapshot() map[string][]ack {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string][]ack, len(rc.acks))
	for k, v := range rc.acks {
		out[k] = append([]ack(nil), v...)
	}
	return out
}

func (rc *recorder) updateCounts() (attempts, accepted int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.attempts, rc.accepted
}

// code counts answers to requests of kind with status code (0: no answer).
func (rc *recorder) code(kind string, code int) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.codes[kind][code]
}

// codesString lists the answers by kind and status, e.g.
// "poll: 200x812 0x3; update: 200x500".
func (rc *recorder) codesString() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var parts []string
	for _, kind := range []string{"poll", "update", "other"} {
		m := rc.codes[kind]
		if len(m) == 0 {
			continue
		}
		var cs []int
		for c := range m {
			cs = append(cs, c)
		}
		sort.Ints(cs)
		var s []string
		for _, c := range cs {
			s = append(s, fmt.Sprintf("%dx%d", c, m[c]))
		}
		parts = append(parts, kind+": "+strings.Join(s, " "))
	}
	return strings.Join(parts, "; ")
}

// stuck returns the requests in flight that started more than older ago.
func (rc *recorder) stuck(older time.Duration) []flight {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []flight
	for _, f := range rc.inflight {
		if time.Since(f.start) > older {
			out = append(out, f)
		}
	}
	return out
}

// ---- the server process --------------------------------------------------------------------

// helper runs a restart helper of run.sh (action kill or start) and returns
// what it printed.
func helper(script, action string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, action).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", script, action, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// mustHelper is helper failing the test on error.
func mustHelper(t *testing.T, script, action string) string {
	t.Helper()
	out, err := helper(script, action)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// healthy polls root/health every 100 ms until it answers 200 and returns
// when it first did.
func healthy(ctx context.Context, root string) (time.Time, error) {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer hc.CloseIdleConnections()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, root+"/health", nil)
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s/health did not answer 200: %w", root, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// restartServer starts the killed server again with the restart helper and
// returns when its /health first answered (watched every 100 ms, finer than
// the helper's own wait).
func restartServer(t *testing.T, srv server) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := helper(srv.restart, "start")
		if err != nil {
			cancel() // the server will not come: stop watching /health
		}
		done <- result{out, err}
	}()
	up, err := healthy(ctx, srv.root)
	res := <-done
	if res.err != nil {
		t.Fatalf("server restart: %v", res.err)
	}
	if err != nil {
		t.Fatalf("server restart: %v\n%s", err, res.out)
	}
	out := res.out
	t.Logf("restart helper: %s", out)
	return up
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// waitUntil polls cond every 10 ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
