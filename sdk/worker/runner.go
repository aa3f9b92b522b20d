package worker

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
)

// How this package is put together. The runner (this file) owns the
// lifecycles: the fetch and work contexts, the goroutine tracker and the
// held-poll permits, and wires one taskWorker per (task type, domain) from
// parts that each get a struct of what they need, never the runner itself:
//
//   - state.go     workerState: a worker's settings, slots and counters, the
//     only thing its parts share;
//   - poller.go    asks for tasks and backs off; how an idle worker waits is
//     decided by strategy.go (pure logic, tested without a server),
//     scheduler.go (the runner's one owner of held-poll permits and of what
//     the server has shown) and watcher.go (the runner's one queue-size
//     watcher, with Start/Stop);
//   - slots.go     a slot goroutine per running task, kept between tasks:
//     executor, then reporter;
//   - executor.go  runs a handler: context, deadline, panic recovery, lease
//     extension; knows nothing of polling or delivery;
//   - reporter.go  delivers results, retrying until accepted, rejected for
//     good or past the shutdown deadline; never drops one silently;
//   - fatal.go     stops a worker whose server answers (to polls and
//     results alike) prove the configuration wrong;
//   - undecodable.go fails at once the tasks of a poll that cannot be
//     decoded, so that the rest of the batch runs.
//
// Which failures are retried, given up or counted as misconfiguration is
// decided by the client's one failure table, retry.Decide; classify.go
// only names the metrics kind of an error.
//
// api.go is the seam to sdk/client; each part sees only its slice of it.

// TaskRunner polls task queues, runs handlers and reports their results. One
// runner serves any number of task types; each (task type, domain) gets its
// own poller goroutine. Create it with NewTaskRunner or
// NewTaskRunnerWithApiClient; all methods are safe for concurrent use.
type TaskRunner struct {
	api      taskAPI
	cfg      runnerConfig
	log      logrus.FieldLogger
	rec      Recorder
	hooks    Hooks
	clock    clockSource
	workerID string

	// fetchCtx governs polling: cancelled first by Shutdown, which also
	// aborts in-flight long polls. workCtx governs handlers and result
	// delivery: cancelled (cause ErrShutdown) when the shutdown deadline
	// passes.
	fetchCtx    context.Context
	fetchCancel context.CancelFunc
	workCtx     context.Context
	workCancel  context.CancelCauseFunc

	running tracker // every goroutine the runner starts

	// v2 is the update-v2 switch every reporter shares (reporter.go).
	v2 updateV2
	// sched decides which idle workers hold polls (scheduler.go); idle
	// workers without a permit watch.
	sched *scheduler
	// watch checks the queues of idle workers for them (watcher.go): the
	// runner starts it with the first live poller and stops it with the
	// last, both under mu.
	watch       *queueWatcher
	livePollers int // pollers whose loop has not ended; under mu

	// baseURL is the server's base URL when the api knows it (ConfigError).
	baseURL string

	fatalMu   sync.Mutex
	fatalErrs []error // see TaskRunner.Err

	mu       sync.Mutex
	workers  map[workerKey]*taskWorker
	order    []*taskWorker
	paused   map[string]bool // by task type, also for workers not yet started
	shutdown bool
	// warnedVars: environment variables already warned about (envconfig.go).
	warnedVars map[string]bool
}

func newRunner(api taskAPI, opts ...Option) *TaskRunner {
	cfg := runnerConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.workerID == "" {
		cfg.workerID = defaultWorkerID()
	}
	if cfg.logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.InfoLevel)
		cfg.logger = l
	}
	if cfg.recorder == nil {
		// The original SDK's convention: without a recorder, report to the
		// default registry, which ProvideMetrics serves (recorder.go).
		rec, err := defaultRecorder()
		if err != nil {
			cfg.logger.WithError(err).Warn("worker: no task metrics: the default Prometheus registry holds other collectors under these names; pass worker.WithMetrics")
		}
		cfg.recorder = rec
	}
	if cfg.clock == nil {
		cfg.clock = systemClock{}
	}
	if !cfg.maxHeldSet {
		cfg.maxHeld = heldPollsDefault
	}
	if cfg.env == nil {
		env := processWorkerEnv()
		cfg.env = &env
	}
	if err := cfg.env.check(); err != nil {
		cfg.fail(err)
	}
	for _, v := range cfg.env.unknownGlobal() {
		cfg.logger.WithField("variable", v).Warn("worker: environment variable names no worker property Baton knows; ignored")
	}
	r := &TaskRunner{
		api:      api,
		cfg:      cfg,
		log:      cfg.logger,
		rec:      cfg.recorder,
		hooks:    cfg.hooks,
		clock:    cfg.clock,
		workerID: cfg.workerID,
		workers:  map[workerKey]*taskWorker{},
		paused:   map[string]bool{},
		sched:    newScheduler(cfg.clock, cfg.maxHeld),
		v2:       updateV2{wanted: cfg.updateV2},
	}
	r.watch = newQueueWatcher(api, cfg.clock, cfg.logger.WithField("workerId", cfg.workerID))
	if s, ok := api.(serverURL); ok {
		r.baseURL = s.serverURL()
	}
	r.fetchCtx, r.fetchCancel = context.WithCancel(context.Background())
	r.workCtx, r.workCancel = context.WithCancelCause(context.Background())
	return r
}

func defaultWorkerID() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "baton-worker"
}

// WorkerID returns the id the runner sends with polls and results.
func (r *TaskRunner) WorkerID() string { return r.workerID }

// StartWorker starts polling taskName (no domain) at once, running fn for
// each task on up to batchSize goroutines; pollInterval is the wait after an
// empty answer that came back at once. Calling it again for the same task
// type adds batchSize slots to the running worker (and sets its poll
// interval); the first handler stays.
func (r *TaskRunner) StartWorker(taskName string, fn model.ExecuteTaskFunction, batchSize int, pollInterval time.Duration) error {
	return r.StartWorkerWithDomain(taskName, fn, batchSize, pollInterval, "")
}

// StartWorkerWithDomain is StartWorker for the task type's queue in domain
// ("" means no domain).
func (r *TaskRunner) StartWorkerWithDomain(taskName string, fn model.ExecuteTaskFunction, batchSize int, pollInterval time.Duration, domain string) error {
	if fn == nil {
		return fmt.Errorf("worker: fn must not be nil (task type %q)", taskName)
	}
	return r.Start(taskName, fromExecuteFunc(fn), BatchSize(batchSize), PollInterval(pollInterval), Domain(domain))
}

// Start starts polling taskName at once and runs h for each task. Options
// set the batch size (slots), poll interval, poll timeout and domain.
// Starting the same (task type, domain) again adds BatchSize slots and
// applies the given poll interval and timeout; the first handler stays.
func (r *TaskRunner) Start(taskName string, h HandlerFunc, opts ...WorkerOption) error {
	if r.cfg.err != nil {
		return r.cfg.err
	}
	if taskName == "" {
		return fmt.Errorf("worker: taskName must not be empty")
	}
	if h == nil {
		return fmt.Errorf("worker: handler must not be nil (task type %q)", taskName)
	}
	wc := workerConfig{batchSize: batchSizeDefault, pollInterval: pollIntervalDefault}
	for _, o := range opts {
		o(&wc)
	}
	if wc.err != nil {
		return fmt.Errorf("%w (task type %q)", wc.err, taskName)
	}
	if err := r.cfg.env.apply(taskName, &wc); err != nil {
		return fmt.Errorf("%w (task type %q)", err, taskName)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutdown {
		return ErrShutdown
	}
	key := workerKey{taskName, wc.domain}
	if err := r.cfg.env.clash(taskName, r.taskTypes()); err != nil {
		return err
	}
	defer r.warnStrayVariables(taskName)
	if tw, ok := r.workers[key]; ok {
		if err := tw.stoppedFor(); err != nil {
			return err // it stopped for good; more slots would not poll
		}
		_, fromEnv := wc.sources["batchSize"]
		_, after := tw.change(func(s *workerSettings) {
			if fromEnv {
				// The operator's number is the worker's total, not an increment.
				s.slots = int64(wc.batchSize)
			} else {
				s.slots += int64(wc.batchSize)
			}
			s.pollInterval = wc.pollInterval
			if wc.pollTimeoutS {
				s.timeout = timeoutChoice{true, wc.pollTimeout}
			}
		})
		tw.log.WithField("batchSize", after.slots).Info("worker: added slots")
		return nil
	}
	h, err := chain(h, r.tracingMiddleware(), r.cfg.middleware, wc.middleware)
	if err != nil {
		return fmt.Errorf("%w (task type %q)", err, taskName)
	}
	tw := r.newTaskWorker(key, h, wc)
	if r.paused[taskName] || wc.paused {
		tw.change(func(s *workerSettings) { s.paused = true })
	}
	tw.logConfig(wc)
	r.workers[key] = tw
	r.order = append(r.order, tw)
	r.livePollers++
	r.watch.Start(r.fetchCtx, &r.running)
	// The worker's own polling context: its reporter ends it too when its
	// results prove the configuration wrong (fatal.go).
	pctx, stopPolling := context.WithCancel(r.fetchCtx)
	tw.fatal.stopPolling = stopPolling
	r.running.add()
	go func() {
		defer r.running.done()
		defer r.pollerStopped()
		defer close(tw.pollerDone)
		defer stopPolling()
		tw.poller.run(pctx)
	}()
	return nil
}

// newTaskWorker builds a worker's state and its three parts, each given
// what it needs and nothing more.
func (r *TaskRunner) newTaskWorker(key workerKey, h HandlerFunc, wc workerConfig) *taskWorker {
	fields := logrus.Fields{"taskType": key.taskType, "workerId": r.workerID}
	if key.domain != "" {
		fields["domain"] = key.domain
	}
	var runnerTimeout *time.Duration
	if r.cfg.pollTimeoutS {
		runnerTimeout = &r.cfg.pollTimeout
	}
	w := newWorkerState(key, r.log.WithFields(fields), wc, runnerTimeout)
	tw := &taskWorker{workerState: w, rec: r.rec, hooks: r.hooks, workerID: r.workerID, running: &r.running, work: r.workCtx,
		pollerDone: make(chan struct{})}
	tw.executor = &executor{w: w, executorDeps: executorDeps{
		handler:  h,
		lease:    r.api,
		payload:  payloadsOf(r.api),
		clock:    r.clock,
		rec:      r.rec,
		hooks:    r.hooks,
		trace:    r.cfg.tracing,
		log:      r.log,
		workerID: r.workerID,
	}}
	tw.reporter = newReporter(reporterDeps{
		api:      r.api,
		v2:       &r.v2,
		clock:    r.clock,
		rec:      r.rec,
		hooks:    r.hooks,
		trace:    r.cfg.tracing,
		workerID: r.workerID,
		polling:  r.fetchCtx,
		refuse:   tw.refuse,
	}, w)
	tw.poller = newPoller(pollerDeps{
		api:      r.api,
		watch:    r.watch,
		sched:    r.sched,
		clock:    r.clock,
		rec:      r.rec,
		hooks:    r.hooks,
		trace:    r.cfg.tracing,
		workerID: r.workerID,
		baseURL:  r.baseURL,
		delay:    r.cfg.deferStart,
		dispatch: tw.dispatch,
		refuse:   tw.refuse,
		work:     r.workCtx,
		handBack: func(tasks []model.Task) { r.handBack(w.log, tasks) },
	}, w)
	w.fatal.stopped, w.fatal.base = r.addFatal, r.baseURL
	return tw
}

// Pause stops polling taskName (every domain) from the next poll on; tasks
// already received keep running and are reported. A poll already waiting on
// the server may still return tasks: they are run. Pausing a task type that
// has no worker yet makes its worker start paused.
func (r *TaskRunner) Pause(taskName string) { r.setPaused(taskName, true) }

// Resume undoes Pause.
func (r *TaskRunner) Resume(taskName string) { r.setPaused(taskName, false) }

func (r *TaskRunner) setPaused(taskName string, paused bool) {
	r.mu.Lock()
	if paused {
		r.paused[taskName] = true
	} else {
		delete(r.paused, taskName)
	}
	ws := r.workersNamed(taskName)
	r.mu.Unlock()
	for _, tw := range ws {
		tw.setPaused(paused)
	}
}

// SetBatchSize sets the number of slots of every worker of taskName; it takes
// effect on the next poll. Lowering it below the tasks running lets those
// finish; no new task is polled until fewer than n run.
func (r *TaskRunner) SetBatchSize(taskName string, n int) error {
	if n < 1 {
		return fmt.Errorf("worker: batchSize must be >= 1, got %d (task type %q)", n, taskName)
	}
	ws, err := r.workersOf(taskName)
	if err != nil {
		return err
	}
	for _, tw := range ws {
		tw.change(func(s *workerSettings) { s.slots = int64(n) })
		tw.log.WithField("batchSize", n).Info("worker: batch size changed")
	}
	return nil
}

// SetPollInterval sets the poll interval of every worker of taskName.
func (r *TaskRunner) SetPollInterval(taskName string, d time.Duration) error {
	if d < pollIntervalMin {
		return fmt.Errorf("worker: pollInterval must be >= %v, got %v (task type %q)", pollIntervalMin, d, taskName)
	}
	ws, err := r.workersOf(taskName)
	if err != nil {
		return err
	}
	for _, tw := range ws {
		tw.change(func(s *workerSettings) { s.pollInterval = d })
	}
	return nil
}

func (r *TaskRunner) workersOf(taskName string) ([]*taskWorker, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ws := r.workersNamed(taskName)
	if len(ws) == 0 {
		return nil, fmt.Errorf("worker: no worker for task type %q", taskName)
	}
	return ws, nil
}

// taskTypes lists the task types of the started workers; needs r.mu held.
func (r *TaskRunner) taskTypes() []string {
	var out []string
	for _, tw := range r.order {
		out = append(out, tw.key.taskType)
	}
	return out
}

// warnStrayVariables warns, once per variable, about task-specific
// environment variables that reach no worker but look meant for one (a typo
// in the task or property name; envconfig.go). Needs r.mu held.
func (r *TaskRunner) warnStrayVariables(taskName string) {
	for v, hint := range r.cfg.env.strayTaskVariables(append(r.taskTypes(), taskName)) {
		if r.warnedVars == nil {
			r.warnedVars = map[string]bool{}
		}
		if r.warnedVars[v] {
			continue
		}
		r.warnedVars[v] = true
		r.log.WithField("variable", v).Warn("worker: environment variable reaches no worker and is ignored: " + hint)
	}
}

// workersNamed needs r.mu held.
func (r *TaskRunner) workersNamed(taskName string) []*taskWorker {
	var ws []*taskWorker
	for _, tw := range r.order {
		if tw.key.taskType == taskName {
			ws = append(ws, tw)
		}
	}
	return ws
}

// WaitWorkers blocks until every worker has stopped and every task it
// started has been run and reported (or given up), which happens after
// Shutdown. It returns at once when no worker was started.
func (r *TaskRunner) WaitWorkers() { _ = r.running.wait(context.Background()) }

// Shutdown stops the runner. No poll starts after it is called; a poll
// already out is not abandoned but read to its end, which its timeout bounds
// (at most pollTimeoutMax, 5 s), because a server may hand a task to a poll
// whose client has gone (Conductor 3.32 does, and the task then waits out
// its response timeout, an hour by default). Tasks such a poll brings run
// like the others. Running handlers and pending result deliveries go on
// until they finish or ctx ends. If ctx ends first, handler contexts are
// cancelled with cause ErrShutdown, deliveries give up, and the error
// returned (which matches ErrShutdown) says which tasks were not drained; a
// task that a poll brings after that is handed back at once (an
// IN_PROGRESS result with callbackAfterSeconds 0 puts it back in its
// queue). Shutdown returns as soon as ctx ends; WaitWorkers then waits for
// polls still out and for handlers that ignore their context. Later calls
// return nil at once. Start after Shutdown fails with ErrShutdown.
func (r *TaskRunner) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.shutdown {
		r.mu.Unlock()
		return nil
	}
	r.shutdown = true
	n := len(r.order)
	r.mu.Unlock()
	if n > 0 {
		r.log.Info("worker: shutting down: no new polls; waiting for polls out and running tasks")
	}
	r.fetchCancel()
	if err := r.running.wait(ctx); err == nil {
		r.workCancel(ErrShutdown)
		return nil
	}
	left := r.undrained()
	r.workCancel(ErrShutdown)
	err := fmt.Errorf("%w: deadline passed with %d task(s) not drained%s: %w", ErrShutdown, len(left), describeTasks(left), context.Cause(ctx))
	r.log.WithError(err).Error("worker: shutdown incomplete")
	return err
}

// handBack puts tasks that arrived too late to run back in their queue: an
// IN_PROGRESS result without callbackAfterSeconds makes Conductor (3.21 and
// 3.32 alike) queue the task again at once, for the next worker's poll.
// Each task gets a few attempts; one that cannot be handed back is logged
// and comes back after its response timeout, as it would have anyway.
func (r *TaskRunner) handBack(log logrus.FieldLogger, tasks []model.Task) {
	for i := range tasks {
		t := &tasks[i]
		res := &model.TaskResult{
			TaskId:             t.TaskId,
			WorkflowInstanceId: t.WorkflowInstanceId,
			WorkerId:           r.workerID,
			Status:             model.InProgressTask,
			OutputData:         map[string]interface{}{},
		}
		l := log.WithFields(logrus.Fields{"taskId": t.TaskId, "workflowId": t.WorkflowInstanceId})
		var err error
		for attempt := range handBackAttempts {
			if attempt > 0 {
				sleepCtx(context.Background(), r.clock, time.Duration(attempt)*time.Second)
			}
			ctx, cancel := context.WithTimeout(context.Background(), handBackTimeout)
			err = r.api.updateTask(ctx, res)
			cancel()
			if err == nil || !classify(err).retryable {
				break
			}
		}
		if err != nil {
			l.WithError(err).Error("worker: a task arrived after the shutdown deadline and could not be handed back; it returns to its queue after its response timeout")
			continue
		}
		l.Warn("worker: a task arrived after the shutdown deadline; handed back to its queue")
	}
}

// How handBack tries: each attempt bounded, a second apart and more.
const (
	handBackAttempts = 3
	handBackTimeout  = 10 * time.Second
)

func (r *TaskRunner) undrained() []string {
	r.mu.Lock()
	ws := append([]*taskWorker(nil), r.order...)
	r.mu.Unlock()
	var ids []string
	for _, tw := range ws {
		ids = append(ids, tw.activeTasks()...)
	}
	sort.Strings(ids)
	return ids
}

func describeTasks(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	const show = 10
	if len(ids) <= show {
		return " (" + strings.Join(ids, ", ") + ")"
	}
	return " (" + strings.Join(ids[:show], ", ") + fmt.Sprintf(", and %d more)", len(ids)-show)
}

// pollerStopped is called by each poller's loop as it ends; the watcher
// stops with the last one, so that WaitWorkers returns when every worker has
// stopped on its own (a misconfiguration, see fatal.go). The next Start
// starts it again.
func (r *TaskRunner) pollerStopped() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.livePollers--
	if r.livePollers == 0 {
		r.watch.Stop()
	}
}
