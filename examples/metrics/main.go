// Command metrics runs a Baton worker with Prometheus metrics:
// `go run ./examples/metrics` and then open the printed scrape URL.
//
// It starts Baton's in-process dev server, registers two task types (one
// handler that succeeds, one that fails now and then so the error series
// move), starts -workflows executions, and serves /metrics and the runner's
// /status on -port (2112 by default) until Ctrl-C. dashboard.json in this
// folder is a Grafana dashboard for these metrics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/metrics"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

type config struct {
	port      int
	host      string
	workflows int
}

func main() {
	var cfg config
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	fs.IntVar(&cfg.port, "port", settings.DefaultMetricsPort, "port of the /metrics endpoint (0: any free port)")
	fs.StringVar(&cfg.host, "host", "127.0.0.1", `interface to serve metrics on ("" for all)`)
	fs.IntVar(&cfg.workflows, "workflows", 20, "workflows to start")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, cfg, nil); err != nil {
		fmt.Fprintln(os.Stderr, "metrics example:", err) // err often starts with "metrics:" itself
		os.Exit(1)
	}
}

const (
	okTask    = "metrics_example_ok"
	flakyTask = "metrics_example_flaky"
	workflow  = "metrics_example"
)

// run serves until ctx ends. ready, when not nil, receives the scrape URL
// once everything is up (tests use it).
func run(ctx context.Context, out io.Writer, cfg config, ready chan<- string) (err error) {
	if cfg.workflows < 0 {
		return fmt.Errorf("-workflows must be >= 0, got %d", cfg.workflows)
	}
	dev, err := conductortest.Start()
	if err != nil {
		return fmt.Errorf("dev server: %w", err)
	}
	defer dev.Close()
	if err := register(dev); err != nil {
		return err
	}

	// One exporter: a private registry, the recorder on it, and the HTTP
	// endpoint. The same recorder goes to the runner and to the HTTP client.
	exp, err := metrics.NewExporter(settings.NewDefaultMetricsSettings())
	if err != nil {
		return err
	}
	api := client.NewAPIClient(nil, settings.NewHttpSettings(dev.URL()), client.WithObserver(exp.Recorder()))
	runner := worker.NewTaskRunnerWithApiClient(api, worker.WithMetrics(exp.Recorder()))

	// Bind first, so that a busy port stops the example here and the URL
	// printed below is the real one (with -port 0 the system picks it).
	// Serve then serves /metrics and the runner's /status until run returns.
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	serveCtx, stopServing := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- exp.Serve(serveCtx, metrics.WithListener(ln), metrics.WithHandler("/status", runner.StatusHandler()))
	}()
	defer func() {
		stopServing()
		err = errors.Join(err, <-served)
	}()

	if err := runner.StartWorker(okTask, work, 4, 50*time.Millisecond); err != nil {
		return err
	}
	if err := runner.StartWorker(flakyTask, flaky, 2, 50*time.Millisecond); err != nil {
		return err
	}
	for i := range cfg.workflows {
		if _, err := dev.StartWorkflow(model.StartWorkflowRequest{Name: workflow, Version: 1,
			Input: map[string]any{"n": i}}); err != nil {
			return fmt.Errorf("start workflow: %w", err)
		}
	}

	base := baseURL(ln.Addr())
	url, status := base+settings.DefaultMetricsPath, base+"/status"
	fmt.Fprintf(out, "metrics: %s\nstatus:  %s\nstarted %d workflows; Ctrl-C to stop\n", url, status, cfg.workflows)
	if ready != nil {
		ready <- url
	}

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Err says whether the server's answers stopped a worker (a wrong URL
	// or key); a real program checks it after WaitWorkers too.
	return errors.Join(runner.Shutdown(shutdownCtx), runner.Err())
}

// baseURL is where a browser on this machine reaches addr.
func baseURL(addr net.Addr) string {
	a := addr.(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// register defines the two task types and a workflow that runs both.
func register(dev *conductortest.Server) error {
	const owner = "examples@baton.dev"
	if err := dev.RegisterTaskDefs(
		model.TaskDef{Name: okTask, OwnerEmail: owner, RetryCount: 0, TimeoutSeconds: 60, ResponseTimeoutSeconds: 30},
		model.TaskDef{Name: flakyTask, OwnerEmail: owner, RetryCount: 2, TimeoutSeconds: 60, ResponseTimeoutSeconds: 30},
	); err != nil {
		return fmt.Errorf("register task definitions: %w", err)
	}
	err := dev.RegisterWorkflowDef(model.WorkflowDef{Name: workflow, Version: 1, OwnerEmail: owner, TimeoutSeconds: 120,
		Tasks: []model.WorkflowTask{
			{Name: okTask, TaskReferenceName: "work", Type: "SIMPLE"},
			{Name: flakyTask, TaskReferenceName: "flaky", Type: "SIMPLE",
				InputParameters: map[string]interface{}{"n": "${workflow.input.n}"}},
		}})
	if err != nil {
		return fmt.Errorf("register workflow: %w", err)
	}
	return nil
}

// work takes a few milliseconds and returns a small output, so the duration
// and size histograms have something to show.
func work(t *model.Task) (interface{}, error) {
	time.Sleep(time.Duration(5+len(t.TaskId)%20) * time.Millisecond) // pretend to work
	return map[string]any{"handledBy": "metrics example", "taskId": t.TaskId}, nil
}

// flaky fails on its first attempt for every third workflow; the server
// retries it (RetryCount 2), so the workflow still completes while
// task_execute_error moves.
func flaky(t *model.Task) (interface{}, error) {
	if n, ok := t.InputData["n"].(float64); ok && int(n)%3 == 0 && t.RetryCount == 0 {
		return nil, errors.New("flaky: first attempt fails")
	}
	return map[string]any{"ok": true}, nil
}
