package metrics_test

import (
	"context"
	"errors"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/metrics"
	bmodel "github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

// The original docs' recipe, with nothing but the original API:
//
//	go metrics.ProvideMetrics(settings.NewDefaultMetricsSettings())
//	runner := worker.NewTaskRunnerWithApiClient(apiClient)
//
// must export the seven documented task series with the task type label as
// soon as tasks run. (ProvideMetrics itself cannot be stopped, so the test
// runs the same code with a context.)
func TestOriginalDocsRecipeExportsTaskSeries(t *testing.T) {
	const taskType = "recipe_greet"
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional())
	t.Cleanup(srv.Close)
	if err := srv.RegisterWorkflowDef(bmodel.WorkflowDef{Name: "recipe", Version: 1, Tasks: []bmodel.WorkflowTask{{
		Name: taskType, TaskReferenceName: taskType,
	}}}); err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- metrics.ProvideMetricsContext(ctx, nil, settings.NewMetricsSettings("/metrics", port))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ProvideMetrics: %v", err)
		}
	})

	runner := worker.NewTaskRunnerWithApiClient(client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL())))
	t.Cleanup(func() {
		_ = runner.Shutdown(context.Background())
		runner.WaitWorkers()
	})
	if err := runner.StartWorker(taskType, func(*bmodel.Task) (interface{}, error) {
		return map[string]interface{}{"ok": true}, nil
	}, 1, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := srv.StartWorkflow(bmodel.StartWorkflowRequest{Name: "recipe", Input: map[string]interface{}{}}); err != nil {
			t.Fatal(err)
		}
	}

	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/metrics"
	waitFor(t, url, "two executions of "+taskType, func(s scraped) bool {
		return s.value("task_execute_time", tt(taskType)) >= 2
	})
	s, err := scrapeOnce(url)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"task_poll_counter", "task_poll_time", "task_poll_error", "task_execute_time",
		"task_execute_error", "task_result_size", "task_update_error"} {
		if !s.has(name, tt(taskType)) {
			t.Errorf("%s has no series for taskType %q", name, taskType)
		}
	}
	if s.value("task_poll_counter", tt(taskType)) < 1 || s.value("task_result_size", tt(taskType)) < 2 {
		t.Errorf("task series did not move: polls %v, result sizes %v",
			s.value("task_poll_counter", tt(taskType)), s.value("task_result_size", tt(taskType)))
	}
	if s["go_goroutines"] == nil {
		t.Error("the default registry's go_* series are missing")
	}
}

// METRICS.md says that a task type's first event creates every one of its
// series at zero, error counters included, for every kind listed there. A
// scrape after a single successful poll must show exactly that.
func TestScrapeMatchesMetricsDoc(t *testing.T) {
	doc, err := os.ReadFile("../../METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	names, kinds := documentedTaskSeries(t, string(doc))

	exp, err := metrics.NewExporter(settings.NewMetricsSettings("/metrics", 0))
	if err != nil {
		t.Fatal(err)
	}
	url := metrics.ServeOnLoopback(t, exp)

	exp.Recorder().PollDone("first", 0, time.Millisecond, "")
	s, err := scrapeOnce(url)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if !s.has(name, tt("first")) {
			t.Errorf("METRICS.md lists %s, but the scrape after the first event has no series for the task type", name)
		}
	}
	for where, ks := range kinds {
		family := map[string]string{"poll": "task_poll_error", "execute": "task_execute_error"}[where]
		for _, k := range ks {
			if !s.has(family, tt("first", "kind", k)) {
				t.Errorf("METRICS.md lists kind %q for %s, but %s{kind=%q} is not in the scrape", k, where, family, k)
			} else if v := s.value(family, tt("first", "kind", k)); v != 0 {
				t.Errorf("%s{kind=%q} = %v before any error", family, k, v)
			}
		}
	}
}

// documentedTaskSeries reads the task_* names of the metric tables and the
// error kinds of METRICS.md by where they apply (poll, execute).
func documentedTaskSeries(t *testing.T, doc string) (names []string, kinds map[string][]string) {
	t.Helper()
	// The default names only: the cross-SDK section lists the names of
	// metrics.WithNames(NamesCrossSDK), which a default recorder does not
	// export (crosssdk_test.go checks those).
	if i := strings.Index(doc, "\n## Cross-SDK names"); i >= 0 {
		doc = doc[:i]
	}
	nameRow := regexp.MustCompile("(?m)^\\| `(task_[a-z_]+)` \\| (counter|gauge|histogram) \\|")
	for _, m := range nameRow.FindAllStringSubmatch(doc, -1) {
		names = append(names, m[1])
	}
	kindRow := regexp.MustCompile("(?m)^\\| `([a-z_]+)` +\\| ([a-z /]+?) +\\|")
	kinds = map[string][]string{}
	for _, m := range kindRow.FindAllStringSubmatch(doc, -1) {
		for _, where := range strings.Split(m[2], " / ") {
			if where == "poll" || where == "execute" {
				kinds[where] = append(kinds[where], m[1])
			}
		}
	}
	if len(names) < 16 || len(kinds["poll"]) < 7 || len(kinds["execute"]) < 4 {
		t.Fatalf("METRICS.md changed shape: %d task metrics, kinds %v", len(names), kinds)
	}
	return names, kinds
}

// The docs' form `go metrics.ProvideMetrics(...)` drops the returned error,
// so a busy port must also be logged, once, at error level.
func TestProvideMetricsLogsABusyPortOnce(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	logger, hook := logtest.NewNullLogger()
	err = metrics.ProvideMetricsContext(context.Background(), logger,
		settings.NewMetricsSettings("/metrics", busy.Addr().(*net.TCPAddr).Port))
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("err = %v, want EADDRINUSE", err)
	}
	var lines []string
	for _, e := range hook.AllEntries() {
		if e.Level <= logrus.ErrorLevel {
			lines = append(lines, e.Message+": "+e.Data[logrus.ErrorKey].(error).Error())
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "address already in use") {
		t.Errorf("error lines = %q, want one naming the busy address", lines)
	}
}

func (s scraped) has(name string, want map[string]string) bool {
	mf := s[name]
	if mf == nil {
		return false
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
		return true
	}
	return false
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}
