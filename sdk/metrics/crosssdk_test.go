package metrics_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/metrics"
	bmodel "github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

// documentedCrossSDK is the cross-SDK section of METRICS.md as data.
var documentedCrossSDK = map[string]struct {
	typ    dto.MetricType
	labels []string
}{
	"task_poll_total":                 {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_execution_started_total":    {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_poll_error_total":           {dto.MetricType_COUNTER, []string{"exception", "taskType"}},
	"task_execute_error_total":        {dto.MetricType_COUNTER, []string{"exception", "taskType"}},
	"task_update_error_total":         {dto.MetricType_COUNTER, []string{"exception", "taskType"}},
	"task_poll_time_seconds":          {dto.MetricType_HISTOGRAM, []string{"status", "taskType"}},
	"task_execute_time_seconds":       {dto.MetricType_HISTOGRAM, []string{"status", "taskType"}},
	"task_update_time_seconds":        {dto.MetricType_HISTOGRAM, []string{"status", "taskType"}},
	"task_result_size_bytes":          {dto.MetricType_HISTOGRAM, []string{"taskType"}},
	"active_workers":                  {dto.MetricType_GAUGE, []string{"taskType"}},
	"http_api_client_request_seconds": {dto.MetricType_HISTOGRAM, []string{"method", "status", "uri"}},
}

// runCrossSDK runs okRuns good and failRuns failing tasks (after a poll
// outage) through a worker whose recorder exports names, and returns the
// scrape taken after a clean shutdown.
func runCrossSDK(t *testing.T, names metrics.NameSet) scraped {
	t.Helper()
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional())
	defer srv.Close()
	for _, wf := range []struct{ name, task string }{{"x_ok", "x_ok"}, {"x_fail", "x_fail"}} {
		def := bmodel.WorkflowDef{Name: wf.name, Version: 1, Tasks: []bmodel.WorkflowTask{{Name: wf.task, TaskReferenceName: "only", Type: "SIMPLE"}}}
		if err := srv.RegisterWorkflowDef(def); err != nil {
			t.Fatal(err)
		}
		if err := srv.RegisterTaskDefs(bmodel.TaskDef{Name: wf.task, RetryCount: 0, TimeoutSeconds: 60, ResponseTimeoutSeconds: 30}); err != nil {
			t.Fatal(err)
		}
	}
	exp, err := metrics.NewExporter(settings.NewMetricsSettings("/metrics", 0), metrics.WithNames(names))
	if err != nil {
		t.Fatal(err)
	}
	url := metrics.ServeOnLoopback(t, exp)
	api := client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL()), client.WithObserver(exp.Recorder()))
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	runner := worker.NewTaskRunnerWithApiClient(api, worker.WithMetrics(exp.Recorder()), worker.WithLogger(quiet),
		worker.WithPollTimeout(100*time.Millisecond))
	defer func() { _ = runner.Shutdown(context.Background()) }()
	ok := func(t *bmodel.Task) (interface{}, error) { return map[string]any{"echo": t.TaskId}, nil }
	fail := func(*bmodel.Task) (interface{}, error) { return nil, errors.New("deliberate failure") }
	if err := runner.StartWorker("x_ok", ok, 2, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := runner.StartWorker("x_fail", fail, 1, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The first workflow starts during the poll outage: an idle worker may
	// be watched rather than polling, and a queued task makes x_ok poll.
	srv.SetFaults(conductortest.Faults{"poll": {ErrorRate: 1, Statuses: []int{503}}})
	var ids []string
	first, err := srv.StartWorkflow(bmodel.StartWorkflowRequest{Name: "x_ok", Version: 1, Input: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, first)
	metric := "task_poll_error"
	if names != metrics.NamesBaton {
		metric = "task_poll_error_total"
	}
	waitFor(t, url, "a poll error", func(s scraped) bool { return s.value(metric, tt("x_ok")) >= 1 })
	srv.ClearFaults()
	for i := 1; i < 5; i++ {
		name := "x_ok"
		if i >= 3 {
			name = "x_fail"
		}
		id, err := srv.StartWorkflow(bmodel.StartWorkflowRequest{Name: name, Version: 1, Input: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitWorkflows(ctx, ids...); err != nil {
		t.Fatal(err)
	}
	if err := runner.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := scrapeOnce(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCrossSDKNamesScrapeAsDocumented(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	s := runCrossSDK(t, metrics.NamesCrossSDK)
	for name, want := range documentedCrossSDK {
		mf := s[name]
		if mf == nil {
			if name == "task_update_error_total" {
				continue // no update failed, and error series appear with the first error
			}
			t.Errorf("scrape lacks %s", name)
			continue
		}
		if mf.GetType() != want.typ {
			t.Errorf("%s: type %v, want %v", name, mf.GetType(), want.typ)
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, lp := range m.GetLabel() {
				got = append(got, lp.GetName())
			}
			sort.Strings(got)
			if !slices.Equal(got, want.labels) {
				t.Errorf("%s: labels %v, want %v", name, got, want.labels)
			}
		}
	}
	for name := range documented {
		if s[name] != nil {
			t.Errorf("NamesCrossSDK exports Baton's %s", name)
		}
	}
	check := func(what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("task_execution_started_total{x_ok}", s.value("task_execution_started_total", tt("x_ok")), 3)
	check("task_execution_started_total{x_fail}", s.value("task_execution_started_total", tt("x_fail")), 2)
	check("active_workers{x_ok} after shutdown", s.value("active_workers", tt("x_ok")), 0)
	check("task_execute_time_seconds{x_ok,SUCCESS}", s.value("task_execute_time_seconds", tt("x_ok", "status", "SUCCESS")), 3)
	check("task_execute_time_seconds{x_fail,FAILURE}", s.value("task_execute_time_seconds", tt("x_fail", "status", "FAILURE")), 2)
	check("task_execute_error_total{x_fail,handler_error}", s.value("task_execute_error_total", tt("x_fail", "exception", "handler_error")), 2)
	check("task_result_size_bytes count{x_ok}", s.value("task_result_size_bytes", tt("x_ok")), 3)
	if s.value("task_poll_error_total", tt("x_ok", "exception", "server")) < 1 ||
		s.value("task_poll_time_seconds", tt("x_ok", "status", "FAILURE")) < 1 {
		t.Error("the poll outage is not in task_poll_error_total / task_poll_time_seconds{FAILURE}")
	}
	check("task_poll_total vs task_poll_time_seconds count", s.value("task_poll_total", nil), s.value("task_poll_time_seconds", nil))
	if s.value("task_update_time_seconds", tt("x_ok", "status", "SUCCESS")) < 3 {
		t.Error("task_update_time_seconds{SUCCESS} missed updates")
	}
	if s.value("http_api_client_request_seconds", map[string]string{"method": "GET", "uri": "/tasks/poll/batch/{taskType}", "status": "503"}) < 1 {
		t.Error("http_api_client_request_seconds lacks the 503 polls under the route template")
	}
}

func TestDefaultNamesAreBatonsAndBothExportsBoth(t *testing.T) {
	for _, c := range []struct {
		names         metrics.NameSet
		baton, crossX bool
	}{{metrics.NamesBaton, true, false}, {metrics.NamesBoth, true, true}} {
		reg := prometheus.NewRegistry()
		opts := []metrics.Option{}
		if c.names != metrics.NamesBaton {
			opts = append(opts, metrics.WithNames(c.names))
		}
		rec, err := metrics.NewPrometheus(reg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		rec.PollDone("t", 1, time.Millisecond, "")
		rec.ExecuteStarted("t")
		rec.ExecuteDone("t", time.Millisecond, "COMPLETED", "", 10)
		mfs, _ := reg.Gather()
		got := map[string]bool{}
		for _, mf := range mfs {
			got[mf.GetName()] = true
		}
		if got["task_poll_counter"] != c.baton || got["task_poll_total"] != c.crossX || got["active_workers"] != c.crossX {
			t.Errorf("%v: exported %v", c.names, got)
		}
	}
	if _, err := metrics.NewPrometheus(prometheus.NewRegistry(), metrics.WithNames(metrics.NameSet(7))); err == nil ||
		!strings.Contains(err.Error(), "unknown name set 7") {
		t.Errorf("bad name set: %v", err)
	}
}

// METRICS.md documents every cross-SDK name and cites where the catalog
// comes from.
func TestMetricsDocListsCrossSDKNames(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "METRICS.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for name := range documentedCrossSDK {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("METRICS.md does not mention %s", name)
		}
	}
	for _, src := range []string{"conductor-oss/java-sdk", "conductor-oss/python-sdk"} {
		if !strings.Contains(doc, src) {
			t.Errorf("METRICS.md does not cite %s", src)
		}
	}
}
