package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/metrics"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

// An Exporter keeps the metrics on a registry of its own and serves them,
// with the runner's status page beside them, until its context ends. Serve
// it on a context that outlives the workers' drain, so that the last
// results are still counted and scraped.
func ExampleNewExporter() {
	srv := conductortest.NewServer() // stands in for Conductor
	defer srv.Close()
	if err := srv.RegisterWorkflowDef(model.WorkflowDef{Name: "greeting", Version: 1,
		Tasks: []model.WorkflowTask{{Name: "greet", TaskReferenceName: "greet"}}}); err != nil {
		log.Fatal(err)
	}

	exp, err := metrics.NewExporter(settings.NewDefaultMetricsSettings())
	if err != nil {
		log.Fatal(err)
	}
	apiClient := client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL()), client.WithObserver(exp.Recorder()))
	runner := worker.NewTaskRunnerWithApiClient(apiClient, worker.WithMetrics(exp.Recorder()))

	// Bind the port first (here any free one on loopback; in production
	// leave the listener out and Serve uses the settings' :2112).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	serveCtx, stopServing := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- exp.Serve(serveCtx, metrics.WithListener(ln), metrics.WithHandler("/status", runner.StatusHandler()))
	}()

	greet := func(ctx context.Context, t *model.Task) (interface{}, error) {
		return map[string]interface{}{"greeting": "hello"}, nil
	}
	if err := runner.Start("greet", greet); err != nil {
		log.Fatal(err)
	}
	id, err := srv.StartWorkflow(model.StartWorkflowRequest{Name: "greeting", Version: 1, Input: map[string]interface{}{}})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitWorkflows(ctx, id); err != nil {
		log.Fatal(err)
	}
	// Drain the workers first, then stop serving.
	if err := runner.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	runner.WaitWorkers()

	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "task_executed_total{") {
			fmt.Println(sc.Text())
		}
	}
	resp.Body.Close()
	stopServing()
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	// Output:
	// task_executed_total{status="COMPLETED",taskType="greet"} 1
	// task_executed_total{status="FAILED",taskType="greet"} 0
	// task_executed_total{status="FAILED_WITH_TERMINAL_ERROR",taskType="greet"} 0
	// task_executed_total{status="IN_PROGRESS",taskType="greet"} 0
	// task_executed_total{status="OTHER",taskType="greet"} 0
}

// The official SDK's recipe: a runner created without worker.WithMetrics
// records to client_golang's default registry, which ProvideMetrics serves
// on :2112/metrics. It returns only on an error (a port in use, which it
// also logs, since the go statement drops it).
func ExampleProvideMetrics() {
	go metrics.ProvideMetrics(settings.NewDefaultMetricsSettings())
	runner := worker.NewTaskRunnerWithApiClient(client.NewAPIClient(nil, settings.NewHttpSettings("http://localhost:8080/api")))
	_ = runner // start workers as usual
}

// A program that already serves a Prometheus registry puts the recorder on
// it and serves it as before. WithNames(NamesBoth) exports the names the
// other Conductor SDKs share beside Baton's own.
func ExampleNewPrometheus() {
	reg := prometheus.NewRegistry()
	rec, err := metrics.NewPrometheus(reg, metrics.WithNames(metrics.NamesBoth))
	if err != nil {
		log.Fatal(err)
	}
	apiClient := client.NewAPIClient(nil, settings.NewHttpSettings("http://localhost:8080/api"), client.WithObserver(rec))
	runner := worker.NewTaskRunnerWithApiClient(apiClient, worker.WithMetrics(rec))
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	_ = runner // start workers, then serve http.DefaultServeMux as the program already does
}
