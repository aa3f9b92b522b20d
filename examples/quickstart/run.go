package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/metrics"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

const (
	// pollInterval is the wait after an empty poll that the server answered
	// at once; with long polls (the default) it rarely matters.
	pollInterval = 100 * time.Millisecond
	// refreshEvery is how often the progress line and the workflow states
	// are refreshed.
	refreshEvery = 200 * time.Millisecond
	// shutdownGrace is how long running handlers and pending result updates
	// get to finish after the run (or Ctrl-C) before they are cancelled.
	shutdownGrace = 10 * time.Second
	// startParallelism bounds concurrent start requests.
	startParallelism = 8
)

// run does the whole quickstart and returns its summary. The error is nil
// only when every workflow completed.
func run(ctx context.Context, out io.Writer, tty bool, cfg config) (summary, error) {
	sum := summary{}
	out = &syncWriter{w: out}
	log := logrus.New()
	log.SetOutput(out)
	// Warnings only: the runner's info lines would tear the progress line.
	log.SetLevel(logrus.WarnLevel)
	// The charge step's designed failures are counted in the summary, not
	// logged one by one; any other failure is still logged.
	log.SetFormatter(hideDesignedFailures{inner: log.Formatter})

	server, auth := cfg.server, cfg.auth
	if server == nil {
		dev := conductortest.NewServer()
		defer dev.Close()
		server = settings.NewHttpSettings(dev.URL())
		auth = settings.NewAuthenticationSettings("", "")
		sum.server = "in-process dev server at " + dev.URL()
		fmt.Fprintf(out, "CONDUCTOR_SERVER_URL is not set: started the in-process dev server at %s\n", dev.URL())
	} else {
		sum.server = server.BaseUrl
		fmt.Fprintf(out, "Using the Conductor server at %s\n", server.BaseUrl)
	}

	// Metrics: a busy port is not a reason to stop the demo. The exporter's
	// recorder goes to both the runner (task metrics) and the client (HTTP
	// request metrics).
	recorder := worker.Recorder(worker.NopRecorder{})
	clientOpts := []client.Option{client.WithLogger(log)}
	sum.metrics = "disabled (-metrics-port 0)"
	var (
		exp *metrics.Exporter
		err error
	)
	if cfg.metricsPort != 0 {
		if exp, err = metrics.NewExporter(settings.NewDefaultMetricsSettings()); err != nil {
			return sum, err
		}
		recorder = exp.Recorder()
		clientOpts = append(clientOpts, client.WithObserver(exp.Recorder()))
	}
	apiClient, err := client.New(auth, server, clientOpts...)
	if err != nil {
		return sum, err
	}

	if err := register(ctx, apiClient); err != nil {
		return sum, err
	}
	fmt.Fprintf(out, "Registered workflow %s (v%d) and %d task definitions\n", workflowName, workflowVersion, len(taskNames))

	var executed, designedFailures, otherFailures atomic.Int64
	st := newStatusTracker(apiClient)
	runner := worker.NewTaskRunnerWithApiClient(apiClient,
		worker.WithLogger(log),
		worker.WithMetrics(recorder),
		worker.WithHooks(worker.Hooks{
			OnTaskFinished: func(t *model.Task, status model.TaskResultStatus, _ time.Duration) {
				executed.Add(1)
				switch {
				case status == model.FailedTask && t.TaskType == taskCharge && t.RetryCount < chargeFailures:
					designedFailures.Add(1)
				case status == model.FailedTask || status == model.FailedWithTerminalErrorTask:
					otherFailures.Add(1)
				}
				// The workflow may have ended: its last step is done, or a
				// step failed (for good, if it had no retry left).
				if t.TaskType == taskNotify || status == model.FailedTask || status == model.FailedWithTerminalErrorTask {
					st.hint(t.WorkflowInstanceId)
				}
			},
		}),
	)
	if exp != nil {
		// The runner's worker status goes beside /metrics on the same port.
		base, stop, err := serveMetrics(exp, cfg.metricsPort, runner, log)
		if err != nil {
			fmt.Fprintf(out, "Metrics unavailable, continuing without them: %v\n", err)
			sum.metrics = fmt.Sprintf("unavailable (%v)", err)
		} else {
			defer stop()
			metricsURL, statusURL := base+settings.DefaultMetricsPath, base+statusPath
			sum.metrics = fmt.Sprintf("%s and worker status at %s", metricsURL, statusURL)
			sum.linger = cfg.linger
			fmt.Fprintf(out, "Prometheus metrics at %s, worker status at %s\n", metricsURL, statusURL)
		}
	}
	handlers := map[string]model.ExecuteTaskFunction{
		taskValidate: validateOrder,
		taskCharge:   chargeCard,
		taskShip:     shipOrder,
		taskNotify:   notifyCustomer,
	}
	for _, name := range taskNames {
		if err := runner.StartWorker(name, handlers[name], cfg.batchSize, pollInterval); err != nil {
			shutdown(runner, out)
			return sum, fmt.Errorf("start worker %s: %w", name, err)
		}
	}
	fmt.Fprintf(out, "Started %d workers (batch size %d each), worker id %q\n", len(taskNames), cfg.batchSize, runner.WorkerID())

	began := time.Now()
	ids, startErr := startWorkflows(ctx, apiClient, cfg.workflows)
	sum.started, sum.ids = len(ids), ids
	st.track(ids)
	fmt.Fprintf(out, "Started %d workflows\n", len(ids))

	prog := newProgress(out, tty)
	waitErr := st.wait(ctx, cfg.timeout, refreshEvery, func() {
		prog.show(st.snapshot(int(executed.Load()), time.Since(began)), time.Now())
	})
	elapsed := time.Since(began)
	prog.finish(st.snapshot(int(executed.Load()), elapsed))

	shutdown(runner, out)
	// A wrong URL or key stops the workers by themselves; Err says why.
	runnerErr := runner.Err()

	sum.elapsed = elapsed
	sum.tasks = int(executed.Load())
	sum.designedFailures, sum.otherFailures = int(designedFailures.Load()), int(otherFailures.Load())
	sum.completed, sum.failed, sum.unfinished, sum.failedIDs = st.counts()
	p := st.lat.percentiles(0.5, 0.99)
	sum.p50, sum.p99, sum.latencySamples = p[0], p[1], st.lat.count()
	fmt.Fprintln(out)
	sum.print(out)
	// A Ctrl-C after the summary only ends the look at the metrics: the run
	// itself was not interrupted.
	interrupted := ctx.Err() != nil
	if !interrupted && sum.linger > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(sum.linger):
		}
	}

	switch {
	case interrupted:
		// First: a Ctrl-C while workflows were being started also fails
		// those starts, but the user stopped the run, so exit 130.
		return sum, errInterrupted
	case runnerErr != nil:
		return sum, runnerErr
	case startErr != nil:
		return sum, startErr
	case waitErr != nil:
		return sum, waitErr
	case !sum.ok():
		return sum, fmt.Errorf("%d of %d workflows did not complete", sum.started-sum.completed, sum.started)
	}
	return sum, nil
}

// shutdown stops the runner gracefully: no new polls, running handlers and
// result updates get shutdownGrace to finish.
func shutdown(runner *worker.TaskRunner, out io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := runner.Shutdown(ctx); err != nil {
		fmt.Fprintf(out, "Worker shutdown: %v\n", err)
	}
}

// statusPath is where the quickstart serves runner.StatusHandler.
// It is /status, as in examples/metrics.
const statusPath = "/status"

// serveMetrics serves the exporter's metrics and the runner's worker status
// on the loopback port (a demo has no business exposing an endpoint to the
// network) until stop is called, and returns the base URL. It binds the port
// before serving, so a port in use is its error.
func serveMetrics(exp *metrics.Exporter, port int, runner *worker.TaskRunner, log logrus.FieldLogger) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := exp.Serve(ctx, metrics.WithListener(ln), metrics.WithLogger(log),
			metrics.WithHandler(statusPath, runner.StatusHandler()))
		if err != nil {
			log.WithError(err).Warn("metrics server stopped")
		}
	}()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

// register upserts the task definitions and the workflow definition, so that
// the quickstart can run again against the same server.
func register(ctx context.Context, c *client.APIClient) error {
	conductor := executor.NewWorkflowExecutor(c)
	if err := conductor.RegisterTaskDefsContext(ctx, taskDefs()...); err != nil {
		return fmt.Errorf("register task definitions: %w", err)
	}
	if err := conductor.RegisterWorkflowContext(ctx, true, workflowDef()); err != nil {
		return fmt.Errorf("register workflow %s: %w", workflowName, err)
	}
	return nil
}

// startWorkflows starts n workflows a few at a time and returns the ids of
// those that started.
func startWorkflows(ctx context.Context, c *client.APIClient, n int) ([]string, error) {
	conductor := executor.NewWorkflowExecutor(c)
	ids := make([]string, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startParallelism)
	for i := range n {
		g.Go(func() error {
			id, err := conductor.StartWorkflowContext(gctx, &model.StartWorkflowRequest{
				Name: workflowName, Version: workflowVersion, Input: workflowInput(i),
				CorrelationId: fmt.Sprintf("baton-quickstart-%d", i),
			})
			if err != nil {
				return fmt.Errorf("start workflow %d: %w", i, err)
			}
			ids[i] = id
			return nil
		})
	}
	err := g.Wait()
	started := ids[:0]
	for _, id := range ids {
		if id != "" {
			started = append(started, id)
		}
	}
	return started, err
}

// hideDesignedFailures drops the runner's warning for a failure the
// quickstart causes on purpose (the charge step's errCardTimeout); the
// summary counts them instead. Every other entry is formatted as before.
type hideDesignedFailures struct{ inner logrus.Formatter }

func (h hideDesignedFailures) Format(e *logrus.Entry) ([]byte, error) {
	if err, ok := e.Data[logrus.ErrorKey].(error); ok && errors.Is(err, errCardTimeout) {
		return nil, nil
	}
	return h.inner.Format(e)
}
