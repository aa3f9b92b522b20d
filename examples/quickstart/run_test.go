package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig is the configuration for a run against serverURL ("" starts
// the dev server), with metrics off.
func testConfig(serverURL string, workflows int) config {
	cfg := config{workflows: workflows, batchSize: defaultBatchSize, timeout: time.Minute}
	if serverURL != "" {
		cfg.server = settings.NewHttpSettings(serverURL)
		cfg.auth = settings.NewAuthenticationSettings("", "")
	}
	return cfg
}

// TestRunCompletesEveryWorkflow runs the quickstart against a dev server and
// checks, on the server, that each workflow went through the designed path:
// the charge step failed once and was retried by the server, the ship step
// was handed out shipCallbacks+1 times, and the data flowed to the output.
func TestRunCompletesEveryWorkflow(t *testing.T) {
	t.Parallel() // each run has its own server; most of a run is the workflow's designed delays
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	const n = 20
	var out bytes.Buffer
	sum, err := run(ctx, &out, false, testConfig(srv.URL(), n))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if sum.started != n || sum.completed != n || sum.failed != 0 || len(sum.ids) != n {
		t.Fatalf("summary %+v, want %d started and completed", sum, n)
	}
	// Per workflow: validate, charge (fails), charge (retry), ship (3 visits), notify.
	if want := n * 7; sum.tasks != want || tasksPerWorkflow != 7 {
		t.Errorf("tasks executed = %d, want %d", sum.tasks, want)
	}
	if sum.latencySamples == 0 {
		t.Errorf("no task latency was measured")
	}

	conductor := executor.NewWorkflowExecutor(client.NewAPIClient(nil, settings.NewHttpSettings(srv.URL())))
	for i, id := range sum.ids {
		w, err := conductor.GetWorkflowContext(ctx, id, true)
		if err != nil {
			t.Fatal(err)
		}
		if w.Status != model.WorkflowCompleted {
			t.Fatalf("workflow %s is %s", id, w.Status)
		}
		var charges []model.Task
		var ship *model.Task
		for j := range w.Tasks {
			switch w.Tasks[j].ReferenceTaskName {
			case "charge":
				charges = append(charges, w.Tasks[j])
			case "ship":
				ship = &w.Tasks[j]
			}
		}
		if len(charges) != chargeFailures+1 || charges[0].Status != model.TaskFailed || charges[len(charges)-1].Status != model.TaskCompleted {
			t.Errorf("workflow %s: charge attempts %v, want one FAILED then COMPLETED", id, statuses(charges))
		}
		if ship == nil || ship.Status != model.TaskCompleted || ship.PollCount != shipCallbacks+1 {
			t.Errorf("workflow %s: ship task %+v, want COMPLETED after %d polls", id, ship, shipCallbacks+1)
		}
		msg, _ := w.Output["message"].(string)
		if !strings.Contains(msg, "trk-order-") || w.Output["paymentId"] == nil {
			t.Errorf("workflow %d output = %v, want the data of every step", i, w.Output)
		}
	}
	for _, want := range []string{"Using the Conductor server at " + srv.URL(), "Summary", fmt.Sprintf("%d completed, 0 failed", n), "p50", "disabled"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func statuses(ts []model.Task) []model.TaskStatus {
	var out []model.TaskStatus
	for _, t := range ts {
		out = append(out, t.Status)
	}
	return out
}

// TestRunStartsDevServerWhenNoURL covers the `make run` path: no server URL.
func TestRunStartsDevServerWhenNoURL(t *testing.T) {
	t.Parallel() // each run has its own server; most of a run is the workflow's designed delays
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var out bytes.Buffer
	sum, err := run(ctx, &out, false, testConfig("", 3))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if sum.completed != 3 || !strings.Contains(out.String(), "started the in-process dev server") {
		t.Fatalf("summary %+v, output:\n%s", sum, out.String())
	}
}

// TestRunContinuesWhenMetricsPortIsBusy: a taken port is reported and the
// run goes on without metrics.
func TestRunContinuesWhenMetricsPortIsBusy(t *testing.T) {
	t.Parallel() // each run has its own server; most of a run is the workflow's designed delays
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	cfg := testConfig(srv.URL(), 2)
	cfg.metricsPort = l.Addr().(*net.TCPAddr).Port
	var out bytes.Buffer
	sum, err := run(ctx, &out, false, cfg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if sum.completed != 2 || !strings.Contains(out.String(), "Metrics unavailable") || !strings.Contains(sum.metrics, "unavailable") {
		t.Fatalf("want the busy port reported and the run completed; summary %+v, output:\n%s", sum, out.String())
	}
}

// TestRunServesMetrics scrapes the endpoints the quickstart announces at the
// moment it prints its summary (they are served until run returns) and
// checks that they describe the run: a worker per task type, and per type as
// many executions as the workflows needed.
func TestRunServesMetrics(t *testing.T) {
	t.Parallel() // each run has its own server; most of a run is the workflow's designed delays
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	var metricsBody, workersBody string
	var scrapeErr error
	w := &onLine{trigger: "Summary", fn: func() {
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		if metricsBody, scrapeErr = get(ctx, base+"/metrics"); scrapeErr == nil {
			workersBody, scrapeErr = get(ctx, base+statusPath)
		}
	}}
	cfg := testConfig(srv.URL(), 2)
	cfg.metricsPort = port
	sum, err := run(ctx, w, false, cfg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, w.String())
	}
	if scrapeErr != nil {
		t.Fatalf("scrape: %v", scrapeErr)
	}
	if !strings.Contains(sum.metrics, fmt.Sprintf("127.0.0.1:%d/metrics", port)) {
		t.Errorf("summary metrics = %q, want the scrape URL on port %d", sum.metrics, port)
	}
	for _, want := range []string{
		`task_executed_total{status="COMPLETED",taskType="baton_qs_notify_customer"} 2`,
		`task_executed_total{status="FAILED",taskType="baton_qs_charge_card"} 2`,
		`task_executed_total{status="IN_PROGRESS",taskType="baton_qs_ship_order"} 4`,
		`task_poll_counter{taskType="baton_qs_validate_order"}`,
	} {
		if !strings.Contains(metricsBody, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, name := range taskNames {
		if !strings.Contains(workersBody, `"taskType":"`+name+`"`) {
			t.Errorf("worker status lacks %s: %s", name, workersBody)
		}
	}
}

// TestRunCountsDesignedFailures: the charge step's failure on purpose is the
// demo, not news. The summary counts them, and the output has no warning line
// for each (a run of 100 workflows used to print 100 before its progress bar).
func TestRunCountsDesignedFailures(t *testing.T) {
	t.Parallel()
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	const n = 5
	var out bytes.Buffer
	sum, err := run(ctx, &out, false, testConfig(srv.URL(), n))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if sum.designedFailures != n*chargeFailures || sum.otherFailures != 0 {
		t.Errorf("designed failures %d, other %d; want %d and 0", sum.designedFailures, sum.otherFailures, n*chargeFailures)
	}
	if strings.Contains(out.String(), "handler failed") || strings.Contains(out.String(), "level=warning") {
		t.Errorf("the designed failures were logged one by one:\n%s", out.String())
	}
	if want := fmt.Sprintf("failures        %d designed", n*chargeFailures); !strings.Contains(out.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, out.String())
	}
}

// TestHideDesignedFailuresKeepsOtherWarnings: only the designed failure is
// hidden; a handler error of any other kind is still logged.
func TestHideDesignedFailuresKeepsOtherWarnings(t *testing.T) {
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	log.SetFormatter(hideDesignedFailures{inner: log.Formatter})
	log.WithError(fmt.Errorf("%w (simulated failure on attempt 1)", errCardTimeout)).Warn("worker: handler failed; task reported FAILED")
	if buf.Len() != 0 {
		t.Fatalf("the designed failure was logged: %s", buf.String())
	}
	log.WithError(errors.New("disk full")).Warn("worker: handler failed; task reported FAILED")
	if !strings.Contains(buf.String(), "disk full") {
		t.Fatalf("another failure was not logged: %q", buf.String())
	}
}

// TestRunKeepsMetricsUpAfterSummary: after the summary the metrics and the
// worker status stay up (so that a newcomer can open them) until -linger
// passes or Ctrl-C; a Ctrl-C then is not an interruption of the run (exit 0).
func TestRunKeepsMetricsUpAfterSummary(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	lingering := make(chan struct{})
	w := &onLine{trigger: "stay up for", fn: func() { close(lingering) }}
	cfg := testConfig(srv.URL(), 2)
	cfg.metricsPort = port
	cfg.linger = time.Hour // only the Ctrl-C below ends it
	type result struct {
		sum summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := run(ctx, w, false, cfg)
		done <- result{sum, err}
	}()
	select {
	case <-lingering:
	case r := <-done:
		t.Fatalf("run returned without keeping the metrics up: %v\n%s", r.err, w.String())
	case <-time.After(45 * time.Second):
		t.Fatalf("no summary within 45 s:\n%s", w.String())
	}
	// The summary has been printed and the workers have shut down; the
	// pages still answer.
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	status, err := get(sctx, base+statusPath)
	if err != nil || !strings.Contains(status, `"taskType":"`+taskNotify+`"`) {
		t.Errorf("status after the summary: %v %s", err, status)
	}
	metricsBody, err := get(sctx, base+"/metrics")
	if err != nil || !strings.Contains(metricsBody, `task_executed_total{status="COMPLETED",taskType="baton_qs_notify_customer"} 2`) {
		t.Errorf("metrics after the summary: %v", err)
	}
	cancel() // Ctrl-C
	select {
	case r := <-done:
		if r.err != nil {
			t.Errorf("Ctrl-C after the summary: err = %v, want nil (exit 0)", r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30 s of Ctrl-C after the summary")
	}
	if _, err := get(sctx, base+statusPath); err == nil {
		t.Errorf("status still served after run returned")
	}
}

func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// onLine is a writer that calls fn once, when output containing trigger is
// written.
type onLine struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	trigger string
	fn      func()
	done    bool
}

func (w *onLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.trigger) {
		w.done = true
		w.fn()
	}
	return n, err
}

func (w *onLine) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// cancelOn is a writer that cancels a context once a line containing
// trigger has been written: the test's Ctrl-C.
type cancelOn struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	trigger string
	cancel  context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.trigger) {
		w.cancel()
	}
	return n, err
}

func (w *cancelOn) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestRunInterrupted: Ctrl-C during the run stops the workers gracefully,
// still prints the summary and reports the interruption (exit code 130).
func TestRunInterrupted(t *testing.T) {
	t.Parallel() // each run has its own server; most of a run is the workflow's designed delays
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelOn{trigger: "Started 50 workflows", cancel: cancel}

	sum, err := run(ctx, w, false, testConfig(srv.URL(), 50))
	if !errors.Is(err, errInterrupted) {
		t.Fatalf("err = %v, want errInterrupted\n%s", err, w.String())
	}
	if sum.started != 50 || sum.completed+sum.failed+sum.unfinished != 50 || !strings.Contains(w.String(), "Summary") {
		t.Fatalf("summary %+v, output:\n%s", sum, w.String())
	}
	var stderr bytes.Buffer
	if code := exitCode(&stderr, err); code != 130 {
		t.Fatalf("exit code %d, want 130", code)
	}
}

// TestRunInterruptedWhileStarting: a Ctrl-C while the workflows are being
// started also fails those starts, but it is still an interruption (130),
// not a failure (1).
func TestRunInterruptedWhileStarting(t *testing.T) {
	t.Parallel()
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelOn{trigger: "Started 4 workers", cancel: cancel}
	_, err := run(ctx, w, false, testConfig(srv.URL(), 500))
	var stderr bytes.Buffer
	if code := exitCode(&stderr, err); code != 130 {
		t.Fatalf("exit code %d (err %v), want 130\n%s", code, err, w.String())
	}
}

func TestExitCode(t *testing.T) {
	var stderr bytes.Buffer
	if exitCode(&stderr, nil) != 0 || stderr.Len() != 0 {
		t.Fatal("success must exit 0 silently")
	}
	if exitCode(&stderr, errors.New("3 of 100 workflows did not complete")) != 1 || !strings.Contains(stderr.String(), "3 of 100") {
		t.Fatalf("failure must exit 1 and say why, got %q", stderr.String())
	}
}

func TestParseConfig(t *testing.T) {
	env := func(url string) func(string) string {
		return func(k string) string {
			if k == settings.EnvServerURL {
				return url
			}
			return ""
		}
	}
	fromEnv := func() (*settings.AuthenticationSettings, *settings.HttpSettings, error) {
		return settings.NewAuthenticationSettings("k", "s"), settings.NewHttpSettings("http://x/api"), nil
	}
	var stderr bytes.Buffer
	cfg, err := parseConfig(nil, env(""), fromEnv, &stderr)
	if err != nil || cfg.workflows != 100 || cfg.metricsPort != 2112 || cfg.server != nil || cfg.linger != defaultLinger {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = parseConfig([]string{"-workflows", "7", "-metrics-port", "0", "-batch", "3"}, env("http://x/api"), fromEnv, &stderr)
	if err != nil || cfg.workflows != 7 || cfg.metricsPort != 0 || cfg.batchSize != 3 || cfg.server.BaseUrl != "http://x/api" || cfg.auth.KeyId() != "k" {
		t.Fatalf("flags: %+v, %v", cfg, err)
	}
	badEnv := func() (*settings.AuthenticationSettings, *settings.HttpSettings, error) {
		return nil, nil, errors.New("CONDUCTOR_SERVER_URL: bad")
	}
	if _, err := parseConfig(nil, env("nope"), badEnv, &stderr); err == nil || !strings.Contains(err.Error(), "CONDUCTOR_SERVER_URL") {
		t.Fatalf("bad environment: err = %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-workflows", "0"}, "-workflows must be >= 1, got 0"},
		{[]string{"-batch", "-1"}, "-batch must be >= 1, got -1"},
		{[]string{"-metrics-port", "70000"}, "-metrics-port must be between 0 and 65535, got 70000"},
		{[]string{"-timeout", "0s"}, "-timeout must be > 0, got 0s"},
		{[]string{"-linger", "-1s"}, "-linger must be >= 0, got -1s"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		if _, err := parseConfig(tc.args, env(""), fromEnv, &stderr); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestRunWithAuthentication is the Orkes path: the server settings come from
// the environment through settings.FromEnv, the client gets a token with the
// key and secret, and the run completes on a server that requires it.
func TestRunWithAuthentication(t *testing.T) {
	srv := conductortest.NewServer(conductortest.WithAuth("quickstart-key", "quickstart-secret"))
	defer srv.Close()
	t.Setenv(settings.EnvServerURL, srv.URL())
	t.Setenv(settings.EnvAuthKey, "quickstart-key")
	t.Setenv(settings.EnvAuthSecret, "quickstart-secret")
	var stderr bytes.Buffer
	cfg, err := parseConfig([]string{"-workflows", "3", "-metrics-port", "0"}, os.Getenv, settings.FromEnv, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var out bytes.Buffer
	sum, err := run(ctx, &out, false, cfg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	st := srv.Stats()
	if sum.completed != 3 || st.TokensIssued < 1 || st.WorkflowsComplete != 3 {
		t.Fatalf("summary %+v, server stats %+v: want 3 workflows completed with a token issued", sum, st)
	}
	if strings.Contains(out.String(), "quickstart-secret") {
		t.Fatalf("the secret was printed:\n%s", out.String())
	}
}

// TestRunTimesOut: workflows still running when -timeout passes are reported
// as unfinished and make the run fail (a non-zero exit code), after a
// graceful stop of the workers.
func TestRunTimesOut(t *testing.T) {
	t.Parallel() // each run has its own server; most of a run is the workflow's designed delays
	srv := conductortest.NewServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cfg := testConfig(srv.URL(), 3)
	// Shorter than the designed 1 s retry delay plus two 1 s callbacks.
	cfg.timeout = 500 * time.Millisecond
	var out bytes.Buffer
	sum, err := run(ctx, &out, false, cfg)
	if err == nil || !strings.Contains(err.Error(), "still running after 500ms") {
		t.Fatalf("err = %v, want the timeout reported\n%s", err, out.String())
	}
	if sum.unfinished != 3 || sum.completed != 0 || !strings.Contains(out.String(), "3 unfinished") {
		t.Fatalf("summary %+v, want 3 unfinished\n%s", sum, out.String())
	}
	var stderr bytes.Buffer
	if exitCode(&stderr, err) != 1 {
		t.Fatalf("exit code for a timeout must be 1")
	}
}
