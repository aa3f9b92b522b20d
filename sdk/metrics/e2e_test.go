package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/metrics"
	bmodel "github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

// documented is METRICS.md as data: every family with its type and labels.
var documented = map[string]struct {
	typ    dto.MetricType
	labels []string
}{
	"task_poll_error":                         {dto.MetricType_COUNTER, []string{"kind", "taskType"}},
	"task_execute_error":                      {dto.MetricType_COUNTER, []string{"kind", "taskType"}},
	"task_update_error":                       {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_poll_counter":                       {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_poll_time":                          {dto.MetricType_HISTOGRAM, []string{"taskType"}},
	"task_execute_time":                       {dto.MetricType_HISTOGRAM, []string{"taskType"}},
	"task_result_size":                        {dto.MetricType_HISTOGRAM, []string{"taskType"}},
	"task_update_time":                        {dto.MetricType_HISTOGRAM, []string{"taskType"}},
	"task_polled_total":                       {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_poll_result_total":                  {dto.MetricType_COUNTER, []string{"result", "taskType"}},
	"task_executed_total":                     {dto.MetricType_COUNTER, []string{"status", "taskType"}},
	"task_in_flight":                          {dto.MetricType_GAUGE, []string{"taskType"}},
	"task_free_slots":                         {dto.MetricType_GAUGE, []string{"taskType"}},
	"task_paused":                             {dto.MetricType_GAUGE, []string{"taskType"}},
	"task_update_give_up_total":               {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_lease_extension_total":              {dto.MetricType_COUNTER, []string{"taskType"}},
	"conductor_http_requests_total":           {dto.MetricType_COUNTER, []string{"code", "endpoint", "method"}},
	"conductor_http_request_duration_seconds": {dto.MetricType_HISTOGRAM, []string{"endpoint", "method"}},
	"conductor_token_refresh_total":           {dto.MetricType_COUNTER, []string{"result"}},
}

// scraped is one parsed /metrics page.
type scraped map[string]*dto.MetricFamily

func scrapeOnce(url string) (scraped, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	return scraped(mfs), err
}

// value sums the samples of name whose labels include want (counter, gauge
// or the sample count of a histogram).
func (s scraped) value(name string, want map[string]string) float64 {
	var sum float64
	mf := s[name]
	if mf == nil {
		return 0
	}
outer:
	for _, m := range mf.GetMetric() {
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue outer
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			sum += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			sum += m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// waitFor scrapes url until cond holds, failing after a generous deadline.
func waitFor(t *testing.T, url, what string, cond func(scraped) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := scrapeOnce(url)
		if err == nil && cond(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s (last scrape error: %v)", what, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the endpoint
	}
}

func tt(taskType string, kv ...string) map[string]string {
	m := map[string]string{"taskType": taskType}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestEndToEndScrape runs a worker against the dev server with metrics on,
// scrapes /metrics over HTTP during and after the run, and checks every
// documented metric's name, type and labels and that the values moved as the
// run dictates.
func TestEndToEndScrape(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	const (
		okType, failType = "metrics_e2e_ok", "metrics_e2e_fail"
		okRuns, failRuns = 4, 3
	)
	srv := conductortest.NewServer(conductortest.WithAuth("key-id", "key-secret"))
	defer srv.Close()
	if err := srv.RegisterTaskDefs(
		bmodel.TaskDef{Name: okType, OwnerEmail: "e2e@example.com", RetryCount: 0, TimeoutSeconds: 60, ResponseTimeoutSeconds: 30},
		bmodel.TaskDef{Name: failType, OwnerEmail: "e2e@example.com", RetryCount: 0, TimeoutSeconds: 60, ResponseTimeoutSeconds: 30},
	); err != nil {
		t.Fatalf("RegisterTaskDefs: %v", err)
	}
	for _, wf := range []struct{ name, task string }{{"wf_metrics_ok", okType}, {"wf_metrics_fail", failType}} {
		def := bmodel.WorkflowDef{Name: wf.name, Version: 1, OwnerEmail: "e2e@example.com", TimeoutSeconds: 60,
			Tasks: []bmodel.WorkflowTask{{Name: wf.task, TaskReferenceName: "only", Type: "SIMPLE"}}}
		if err := srv.RegisterWorkflowDef(def); err != nil {
			t.Fatalf("RegisterWorkflowDef %s: %v", wf.name, err)
		}
	}

	exp, err := metrics.NewExporter(settings.NewMetricsSettings("/metrics", 0))
	if err != nil {
		t.Fatal(err)
	}
	url := metrics.ServeOnLoopback(t, exp)

	api := client.NewAPIClient(settings.NewAuthenticationSettings("key-id", "key-secret"),
		settings.NewHttpSettings(srv.URL()), client.WithObserver(exp.Recorder()))
	quiet := logrus.New()
	quiet.SetOutput(io.Discard) // the run logs expected poll failures
	runner := worker.NewTaskRunnerWithApiClient(api, worker.WithMetrics(exp.Recorder()),
		worker.WithPollTimeout(200*time.Millisecond), worker.WithLogger(quiet))
	ok := func(t *bmodel.Task) (interface{}, error) { return map[string]any{"echo": t.TaskId}, nil }
	fail := func(*bmodel.Task) (interface{}, error) { return nil, errors.New("deliberate failure") }
	if err := runner.StartWorker(okType, ok, 2, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := runner.StartWorker(failType, fail, 1, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := runner.Shutdown(ctx); err != nil {
			t.Errorf("runner Shutdown: %v", err)
		}
	}
	stopped := false
	defer func() {
		if !stopped {
			shutdown()
		}
	}()

	// A server outage on the poll endpoints first, so the error series exist.
	// The first workflow starts during it: an idle worker may be watched
	// rather than polling (the two idle types share one held poll), and a
	// queued task makes okType poll whichever it is.
	srv.SetFaults(conductortest.Faults{"poll": {ErrorRate: 1, Statuses: []int{503}}})
	var ids []string
	first, err := srv.StartWorkflow(bmodel.StartWorkflowRequest{Name: "wf_metrics_ok", Version: 1, Input: map[string]any{}})
	if err != nil {
		t.Fatalf("StartWorkflow: %v", err)
	}
	ids = append(ids, first)
	waitFor(t, url, "a poll error", func(s scraped) bool {
		return s.value("task_poll_error", tt(okType, "kind", "server")) >= 1
	})
	srv.ClearFaults()

	for i := 1; i < okRuns+failRuns; i++ {
		name := "wf_metrics_ok"
		if i >= okRuns {
			name = "wf_metrics_fail"
		}
		id, err := srv.StartWorkflow(bmodel.StartWorkflowRequest{Name: name, Version: 1, Input: map[string]any{}})
		if err != nil {
			t.Fatalf("StartWorkflow: %v", err)
		}
		ids = append(ids, id)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitWorkflows(wctx, ids...); err != nil {
		t.Fatalf("WaitWorkflows: %v", err)
	}

	// During the run: pausing shows on the gauge.
	runner.Pause(okType)
	waitFor(t, url, "task_paused == 1", func(s scraped) bool { return s.value("task_paused", tt(okType)) == 1 })
	runner.Resume(okType)

	// After a clean shutdown every recorder call has happened.
	shutdown()
	stopped = true
	s, err := scrapeOnce(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}

	// Every documented family is there with its type and labels.
	for name, want := range documented {
		mf := s[name]
		if mf == nil {
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

	check := func(what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	atLeast := func(what string, got, min float64) {
		t.Helper()
		if got < min {
			t.Errorf("%s = %v, want >= %v", what, got, min)
		}
	}

	for _, c := range []struct {
		task string
		runs float64
	}{{okType, okRuns}, {failType, failRuns}} {
		polls := s.value("task_poll_counter", tt(c.task))
		atLeast("task_poll_counter{"+c.task+"}", polls, 1)
		// Every poll has exactly one outcome, and each outcome is a poll.
		check("sum of task_poll_result_total{"+c.task+"} vs task_poll_counter",
			s.value("task_poll_result_total", tt(c.task)), polls)
		check("task_poll_time count{"+c.task+"} vs task_poll_counter", s.value("task_poll_time", tt(c.task)), polls)
		check("task_poll_error{"+c.task+"} vs result=error", s.value("task_poll_error", tt(c.task)),
			s.value("task_poll_result_total", tt(c.task, "result", "error")))
		atLeast("task_poll_result_total{"+c.task+",tasks}", s.value("task_poll_result_total", tt(c.task, "result", "tasks")), 1)
		// Tasks handed back by update-v2 do not come from a poll, so
		// task_polled_total may be lower than the runs, never higher.
		polled := s.value("task_polled_total", tt(c.task))
		if polled < 1 || polled > c.runs {
			t.Errorf("task_polled_total{%s} = %v, want 1..%v", c.task, polled, c.runs)
		}
		check("task_execute_time count{"+c.task+"}", s.value("task_execute_time", tt(c.task)), c.runs)
		check("task_result_size count{"+c.task+"}", s.value("task_result_size", tt(c.task)), c.runs)
		atLeast("task_update_time count{"+c.task+"}", s.value("task_update_time", tt(c.task)), c.runs)
		check("task_update_error{"+c.task+"}", s.value("task_update_error", tt(c.task)), 0)
		check("task_update_give_up_total{"+c.task+"}", s.value("task_update_give_up_total", tt(c.task)), 0)
		check("task_in_flight{"+c.task+"} after shutdown", s.value("task_in_flight", tt(c.task)), 0)
		check("task_paused{"+c.task+"} after resume", s.value("task_paused", tt(c.task)), 0)
		check("task_lease_extension_total{"+c.task+"}", s.value("task_lease_extension_total", tt(c.task)), 0)
	}
	check("task_free_slots{ok}", s.value("task_free_slots", tt(okType)), 2)
	check("task_executed_total{ok,COMPLETED}", s.value("task_executed_total", tt(okType, "status", "COMPLETED")), okRuns)
	check("task_executed_total{fail,FAILED}", s.value("task_executed_total", tt(failType, "status", "FAILED")), failRuns)
	// The failing handler is counted exactly, under its kind; the good one never.
	check("task_execute_error{fail,handler_error}", s.value("task_execute_error", tt(failType, "kind", "handler_error")), failRuns)
	check("task_execute_error{fail} all kinds", s.value("task_execute_error", tt(failType)), failRuns)
	check("task_execute_error{ok}", s.value("task_execute_error", tt(okType)), 0)

	atLeast("task_poll_error{ok,server}", s.value("task_poll_error", tt(okType, "kind", "server")), 1)
	atLeast("conductor_http_requests_total{poll route,503}",
		s.value("conductor_http_requests_total", map[string]string{"endpoint": "/tasks/poll/batch/{taskType}", "code": "503"}),
		s.value("task_poll_error", nil))

	// The client observer: batch polls went through the route template.
	pollRoute := map[string]string{"endpoint": "/tasks/poll/batch/{taskType}", "method": "GET"}
	polls := s.value("task_poll_counter", nil)
	atLeast("conductor_http_requests_total{poll route}", s.value("conductor_http_requests_total", pollRoute), polls)
	check("conductor_http_request_duration_seconds count vs requests",
		s.value("conductor_http_request_duration_seconds", nil), s.value("conductor_http_requests_total", nil))
	for _, mf := range []string{"conductor_http_requests_total"} {
		for _, m := range s[mf].GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "endpoint" && strings.Contains(lp.GetValue(), "metrics_e2e") {
					t.Errorf("endpoint label holds an expanded path: %q", lp.GetValue())
				}
			}
		}
	}
	atLeast("conductor_token_refresh_total{success}", s.value("conductor_token_refresh_total", map[string]string{"result": "success"}), 1)
	check("conductor_token_refresh_total{error}", s.value("conductor_token_refresh_total", map[string]string{"result": "error"}), 0)
}
