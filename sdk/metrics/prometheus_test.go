package metrics

import (
	"github.com/baton-go/baton/sdk/worker"

	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// family describes what a user sees for one metric: its type and label names.
type family struct {
	typ    dto.MetricType
	labels []string
}

// wantFamilies is the documented contract (METRICS.md). Tests compare the
// registry against it, so a renamed metric or label fails here.
var wantFamilies = map[string]family{
	"task_poll_error":    {dto.MetricType_COUNTER, []string{"kind", "taskType"}},
	"task_execute_error": {dto.MetricType_COUNTER, []string{"kind", "taskType"}},
	"task_update_error":  {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_poll_counter":  {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_poll_time":     {dto.MetricType_HISTOGRAM, []string{"taskType"}},
	"task_execute_time":  {dto.MetricType_HISTOGRAM, []string{"taskType"}},
	"task_result_size":   {dto.MetricType_HISTOGRAM, []string{"taskType"}},

	"task_update_time":           {dto.MetricType_HISTOGRAM, []string{"taskType"}},
	"task_polled_total":          {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_poll_result_total":     {dto.MetricType_COUNTER, []string{"result", "taskType"}},
	"task_executed_total":        {dto.MetricType_COUNTER, []string{"status", "taskType"}},
	"task_in_flight":             {dto.MetricType_GAUGE, []string{"taskType"}},
	"task_free_slots":            {dto.MetricType_GAUGE, []string{"taskType"}},
	"task_paused":                {dto.MetricType_GAUGE, []string{"taskType"}},
	"task_update_give_up_total":  {dto.MetricType_COUNTER, []string{"taskType"}},
	"task_lease_extension_total": {dto.MetricType_COUNTER, []string{"taskType"}},

	"conductor_http_requests_total":           {dto.MetricType_COUNTER, []string{"code", "endpoint", "method"}},
	"conductor_http_request_duration_seconds": {dto.MetricType_HISTOGRAM, []string{"endpoint", "method"}},
	"conductor_token_refresh_total":           {dto.MetricType_COUNTER, []string{"result"}},
}

func newTestRecorder(t *testing.T, opts ...Option) (*Prometheus, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	rec, err := NewPrometheus(reg, opts...)
	if err != nil {
		t.Fatalf("NewPrometheus: %v", err)
	}
	return rec, reg
}

// recordOneOfEach makes every metric family appear at least once.
func recordOneOfEach(r *Prometheus) {
	r.PollDone("t", 1, time.Millisecond, "")
	r.PollDone("t", 0, time.Millisecond, worker.ErrorKindTimeout)
	r.ExecuteStarted("t")
	r.ExecuteDone("t", time.Millisecond, "FAILED", worker.ErrorKindHandler, 12)
	r.UpdateDone("t", time.Millisecond, worker.ErrorKindServer)
	r.UpdateGaveUp("t")
	r.LeaseExtended("t")
	r.SlotsChanged("t", 1, 1)
	r.PausedChanged("t", false)
	r.RequestDone("/tasks", "POST", 200, time.Millisecond)
	r.TokenRefreshed(nil)
}

// exposition renders the named families in the text format without HELP and
// TYPE lines, so expectations read like a /metrics page.
func exposition(t *testing.T, g prometheus.Gatherer, names ...string) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if len(names) > 0 && !slices.Contains(names, mf.GetName()) {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatalf("MetricFamilyToText: %v", err)
		}
	}
	var out []string
	for line := range strings.Lines(buf.String()) {
		if !strings.HasPrefix(line, "#") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

func expect(lines ...string) string { return strings.Join(lines, "\n") }

func checkExposition(t *testing.T, g prometheus.Gatherer, name string, want string) {
	t.Helper()
	if got := exposition(t, g, name); got != want {
		t.Errorf("%s:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestFamiliesMatchTheDocumentedContract(t *testing.T) {
	rec, reg := newTestRecorder(t)
	recordOneOfEach(rec)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		seen[name] = true
		want, ok := wantFamilies[name]
		if !ok {
			t.Errorf("undocumented metric family %q", name)
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
	for name := range wantFamilies {
		if !seen[name] {
			t.Errorf("metric family %q missing after recording one of each event", name)
		}
	}
}

func TestPollDone(t *testing.T) {
	rec, reg := newTestRecorder(t, WithBuckets("task_poll_time", []float64{0.1, 1, 5}))

	rec.PollDone("a", 2, 62500*time.Microsecond, "")                   // answered with work
	rec.PollDone("a", 0, 5*time.Second, "")                            // long wait ran out
	rec.PollDone("a", 0, 500*time.Millisecond, worker.ErrorKindServer) // failed
	rec.PollDone("b", 0, 0, "dial tcp 10.1.2.3:8080: connection refused")

	checkExposition(t, reg, "task_poll_counter", expect(
		`task_poll_counter{taskType="a"} 3`,
		`task_poll_counter{taskType="b"} 1`))
	checkExposition(t, reg, "task_polled_total", expect(
		`task_polled_total{taskType="a"} 2`,
		`task_polled_total{taskType="b"} 0`))
	checkExposition(t, reg, "task_poll_result_total", expect(
		`task_poll_result_total{result="empty",taskType="a"} 1`,
		`task_poll_result_total{result="empty",taskType="b"} 0`,
		`task_poll_result_total{result="error",taskType="a"} 1`,
		`task_poll_result_total{result="error",taskType="b"} 1`,
		`task_poll_result_total{result="tasks",taskType="a"} 1`,
		`task_poll_result_total{result="tasks",taskType="b"} 0`))
	// A raw error string never becomes a label value.
	// Every kind exists at zero from the task type's first event on.
	checkExposition(t, reg, "task_poll_error", expect(
		`task_poll_error{kind="client",taskType="a"} 0`,
		`task_poll_error{kind="client",taskType="b"} 0`,
		`task_poll_error{kind="connection",taskType="a"} 0`,
		`task_poll_error{kind="connection",taskType="b"} 0`,
		`task_poll_error{kind="decode",taskType="a"} 0`,
		`task_poll_error{kind="decode",taskType="b"} 0`,
		`task_poll_error{kind="other",taskType="a"} 0`,
		`task_poll_error{kind="other",taskType="b"} 1`,
		`task_poll_error{kind="server",taskType="a"} 1`,
		`task_poll_error{kind="server",taskType="b"} 0`,
		`task_poll_error{kind="throttled",taskType="a"} 0`,
		`task_poll_error{kind="throttled",taskType="b"} 0`,
		`task_poll_error{kind="timeout",taskType="a"} 0`,
		`task_poll_error{kind="timeout",taskType="b"} 0`,
		`task_poll_error{kind="unauthorized",taskType="a"} 0`,
		`task_poll_error{kind="unauthorized",taskType="b"} 0`))
	checkExposition(t, reg, "task_poll_time", expect(
		`task_poll_time_bucket{taskType="a",le="0.1"} 1`,
		`task_poll_time_bucket{taskType="a",le="1"} 2`,
		`task_poll_time_bucket{taskType="a",le="5"} 3`,
		`task_poll_time_bucket{taskType="a",le="+Inf"} 3`,
		`task_poll_time_sum{taskType="a"} 5.5625`,
		`task_poll_time_count{taskType="a"} 3`,
		`task_poll_time_bucket{taskType="b",le="0.1"} 1`,
		`task_poll_time_bucket{taskType="b",le="1"} 1`,
		`task_poll_time_bucket{taskType="b",le="5"} 1`,
		`task_poll_time_bucket{taskType="b",le="+Inf"} 1`,
		`task_poll_time_sum{taskType="b"} 0`,
		`task_poll_time_count{taskType="b"} 1`))
}

func TestExecuteDone(t *testing.T) {
	rec, reg := newTestRecorder(t,
		WithBuckets("task_execute_time", []float64{0.5, 2}),
		WithBuckets("task_result_size", []float64{10, 1000}))

	rec.ExecuteDone("a", 250*time.Millisecond, "COMPLETED", "", 100)
	rec.ExecuteDone("a", 3*time.Second, "FAILED", worker.ErrorKindHandler, 0)
	rec.ExecuteDone("a", time.Second, "FAILED_WITH_TERMINAL_ERROR", worker.ErrorKindTerminal, 5000)
	rec.ExecuteDone("a", 0, "IN_PROGRESS", "", -1) // a negative size is clamped to 0
	rec.ExecuteDone("a", 0, "SOMETHING_NEW", worker.ErrorKindPanic, 0)

	checkExposition(t, reg, "task_execute_error", expect(
		`task_execute_error{kind="handler_error",taskType="a"} 1`,
		`task_execute_error{kind="invalid_output",taskType="a"} 0`,
		`task_execute_error{kind="other",taskType="a"} 0`,
		`task_execute_error{kind="panic",taskType="a"} 1`,
		`task_execute_error{kind="terminal",taskType="a"} 1`))
	checkExposition(t, reg, "task_executed_total", expect(
		`task_executed_total{status="COMPLETED",taskType="a"} 1`,
		`task_executed_total{status="FAILED",taskType="a"} 1`,
		`task_executed_total{status="FAILED_WITH_TERMINAL_ERROR",taskType="a"} 1`,
		`task_executed_total{status="IN_PROGRESS",taskType="a"} 1`,
		`task_executed_total{status="OTHER",taskType="a"} 1`))
	checkExposition(t, reg, "task_execute_time", expect(
		`task_execute_time_bucket{taskType="a",le="0.5"} 3`,
		`task_execute_time_bucket{taskType="a",le="2"} 4`,
		`task_execute_time_bucket{taskType="a",le="+Inf"} 5`,
		`task_execute_time_sum{taskType="a"} 4.25`,
		`task_execute_time_count{taskType="a"} 5`))
	checkExposition(t, reg, "task_result_size", expect(
		`task_result_size_bucket{taskType="a",le="10"} 3`,
		`task_result_size_bucket{taskType="a",le="1000"} 4`,
		`task_result_size_bucket{taskType="a",le="+Inf"} 5`,
		`task_result_size_sum{taskType="a"} 5100`,
		`task_result_size_count{taskType="a"} 5`))
}

func TestUpdateAndLifecycleEvents(t *testing.T) {
	rec, reg := newTestRecorder(t, WithBuckets("task_update_time", []float64{0.1}))

	rec.UpdateDone("a", 50*time.Millisecond, worker.ErrorKindServer)
	rec.UpdateDone("a", 50*time.Millisecond, worker.ErrorKindThrottled)
	rec.UpdateDone("a", 250*time.Millisecond, "")
	rec.UpdateGaveUp("a")
	rec.UpdateGaveUp("a")
	rec.LeaseExtended("a")
	rec.SlotsChanged("a", 3, 7)
	rec.SlotsChanged("a", 1, 9) // a gauge keeps only the latest value
	rec.PausedChanged("a", true)
	rec.PausedChanged("b", true)
	rec.PausedChanged("b", false)

	// The first event of a task type creates all its series at zero, so
	// "b" shows up everywhere although it only ever paused and resumed:
	// increase() and alerts on absent-vs-zero work from the start.
	checkExposition(t, reg, "task_update_error", expect(
		`task_update_error{taskType="a"} 2`,
		`task_update_error{taskType="b"} 0`))
	checkExposition(t, reg, "task_update_time", expect(
		`task_update_time_bucket{taskType="a",le="0.1"} 2`,
		`task_update_time_bucket{taskType="a",le="+Inf"} 3`,
		`task_update_time_sum{taskType="a"} 0.35`,
		`task_update_time_count{taskType="a"} 3`,
		`task_update_time_bucket{taskType="b",le="0.1"} 0`,
		`task_update_time_bucket{taskType="b",le="+Inf"} 0`,
		`task_update_time_sum{taskType="b"} 0`,
		`task_update_time_count{taskType="b"} 0`))
	checkExposition(t, reg, "task_update_give_up_total", expect(
		`task_update_give_up_total{taskType="a"} 2`,
		`task_update_give_up_total{taskType="b"} 0`))
	checkExposition(t, reg, "task_lease_extension_total", expect(
		`task_lease_extension_total{taskType="a"} 1`,
		`task_lease_extension_total{taskType="b"} 0`))
	checkExposition(t, reg, "task_in_flight", expect(
		`task_in_flight{taskType="a"} 1`,
		`task_in_flight{taskType="b"} 0`))
	checkExposition(t, reg, "task_free_slots", expect(
		`task_free_slots{taskType="a"} 9`,
		`task_free_slots{taskType="b"} 0`))
	checkExposition(t, reg, "task_paused", expect(
		`task_paused{taskType="a"} 1`,
		`task_paused{taskType="b"} 0`))
}

func TestClientObserverMethods(t *testing.T) {
	rec, reg := newTestRecorder(t, WithBuckets("conductor_http_request_duration_seconds", []float64{1}))

	rec.RequestDone("/tasks/poll/batch/{taskType}", "GET", 200, 500*time.Millisecond)
	rec.RequestDone("/tasks/poll/batch/{taskType}", "GET", 200, 2*time.Second)
	rec.RequestDone("/tasks/poll/batch/{taskType}", "GET", 0, 0) // no answer
	rec.RequestDone("/tasks", "POST", 503, 0)
	rec.RequestDone("/tasks", "POST", 1234, 0) // nonsense codes collapse to "0"
	rec.TokenRefreshed(nil)
	rec.TokenRefreshed(errors.New("401 from /token"))
	rec.TokenRefreshed(errors.New("timeout"))

	checkExposition(t, reg, "conductor_http_requests_total", expect(
		`conductor_http_requests_total{code="0",endpoint="/tasks",method="POST"} 1`,
		`conductor_http_requests_total{code="0",endpoint="/tasks/poll/batch/{taskType}",method="GET"} 1`,
		`conductor_http_requests_total{code="200",endpoint="/tasks/poll/batch/{taskType}",method="GET"} 2`,
		`conductor_http_requests_total{code="503",endpoint="/tasks",method="POST"} 1`))
	checkExposition(t, reg, "conductor_http_request_duration_seconds", expect(
		`conductor_http_request_duration_seconds_bucket{endpoint="/tasks",method="POST",le="1"} 2`,
		`conductor_http_request_duration_seconds_bucket{endpoint="/tasks",method="POST",le="+Inf"} 2`,
		`conductor_http_request_duration_seconds_sum{endpoint="/tasks",method="POST"} 0`,
		`conductor_http_request_duration_seconds_count{endpoint="/tasks",method="POST"} 2`,
		`conductor_http_request_duration_seconds_bucket{endpoint="/tasks/poll/batch/{taskType}",method="GET",le="1"} 2`,
		`conductor_http_request_duration_seconds_bucket{endpoint="/tasks/poll/batch/{taskType}",method="GET",le="+Inf"} 3`,
		`conductor_http_request_duration_seconds_sum{endpoint="/tasks/poll/batch/{taskType}",method="GET"} 2.5`,
		`conductor_http_request_duration_seconds_count{endpoint="/tasks/poll/batch/{taskType}",method="GET"} 3`))
	// Both results exist from the start, so rate() works before the first failure.
	if got := testutil.ToFloat64(rec.tokenRefresh.WithLabelValues("success")); got != 1 {
		t.Errorf("token refresh success = %v, want 1", got)
	}
	if got := testutil.ToFloat64(rec.tokenRefresh.WithLabelValues("error")); got != 2 {
		t.Errorf("token refresh error = %v, want 2", got)
	}
}

func TestTokenRefreshSeriesExistBeforeAnyRefresh(t *testing.T) {
	_, reg := newTestRecorder(t)
	checkExposition(t, reg, "conductor_token_refresh_total", expect(
		`conductor_token_refresh_total{result="error"} 0`,
		`conductor_token_refresh_total{result="success"} 0`))
}

func TestErrorKindsAreBounded(t *testing.T) {
	rec, reg := newTestRecorder(t)
	known := []worker.ErrorKind{worker.ErrorKindTimeout, worker.ErrorKindConnection, worker.ErrorKindServer, worker.ErrorKindThrottled, worker.ErrorKindClient,
		worker.ErrorKindUnauthorized, worker.ErrorKindDecode, worker.ErrorKindHandler, worker.ErrorKindTerminal, worker.ErrorKindPanic, worker.ErrorKindOutput,
		worker.ErrorKindOther}
	for _, k := range known {
		rec.PollDone("a", 0, 0, k)
	}
	for i := range 100 {
		rec.PollDone("a", 0, 0, worker.ErrorKind(fmt.Sprintf("task %d failed: boom", i)))
		rec.ExecuteDone("a", 0, fmt.Sprintf("STATUS_%d", i), worker.ErrorKind(fmt.Sprintf("err %d", i)), 0)
	}
	if n := testutil.CollectAndCount(rec.pollError); n != len(known) {
		t.Errorf("task_poll_error has %d series, want %d (one per known kind)", n, len(known))
	}
	if got := testutil.ToFloat64(rec.pollError.WithLabelValues("a", string(worker.ErrorKindOther))); got != 101 {
		t.Errorf(`task_poll_error{kind="other"} = %v, want 101`, got)
	}
	checkExposition(t, reg, "task_execute_error", expect(
		`task_execute_error{kind="handler_error",taskType="a"} 0`,
		`task_execute_error{kind="invalid_output",taskType="a"} 0`,
		`task_execute_error{kind="other",taskType="a"} 100`,
		`task_execute_error{kind="panic",taskType="a"} 0`,
		`task_execute_error{kind="terminal",taskType="a"} 0`))
	checkExposition(t, reg, "task_executed_total", expect(
		`task_executed_total{status="COMPLETED",taskType="a"} 0`,
		`task_executed_total{status="FAILED",taskType="a"} 0`,
		`task_executed_total{status="FAILED_WITH_TERMINAL_ERROR",taskType="a"} 0`,
		`task_executed_total{status="IN_PROGRESS",taskType="a"} 0`,
		`task_executed_total{status="OTHER",taskType="a"} 100`))
}

// TestLint runs promlint. The names and the taskType label come from the
// original SDK's documentation and break three rules on purpose; everything
// else must be clean. The test pins the exact set so that a new violation
// (or a fixed one) is noticed.
func TestLint(t *testing.T) {
	rec, reg := newTestRecorder(t)
	recordOneOfEach(rec)

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	const (
		camel  = "label names should be written in 'snake_case' not 'camelCase'"
		total  = `counter metrics should have "_total" suffix`
		inName = "metric name should not include type 'counter'"
	)
	want := map[string]bool{
		"task_poll_error: " + total:    true,
		"task_execute_error: " + total: true,
		"task_update_error: " + total:  true,
		"task_poll_counter: " + total:  true,
		"task_poll_counter: " + inName: true,
	}
	for name, f := range wantFamilies {
		if slices.Contains(f.labels, "taskType") {
			want[name+": "+camel] = true
		}
	}
	got := map[string]bool{}
	for _, p := range problems {
		got[p.Metric+": "+p.Text] = true
	}
	for k := range got {
		if !want[k] {
			t.Errorf("unexpected lint problem: %s", k)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("expected lint problem not reported (rule changed or name fixed?): %s", k)
		}
	}
}

func TestNewPrometheusErrors(t *testing.T) {
	if _, err := NewPrometheus(nil); err == nil || !strings.Contains(err.Error(), "registerer") {
		t.Errorf("nil registerer: err = %v, want one naming the registerer", err)
	}
	reg := prometheus.NewRegistry()
	_, err := NewPrometheus(reg, WithBuckets("task_poll_time", []float64{1, 1}))
	if err == nil || !strings.Contains(err.Error(), "task_poll_time") || !strings.Contains(err.Error(), "[1 1]") {
		t.Errorf("duplicate buckets: err = %v, want one naming task_poll_time and the buckets", err)
	}
	_, err = NewPrometheus(reg, WithBuckets("task_result_size", nil))
	if err == nil || !strings.Contains(err.Error(), "task_result_size buckets must not be empty") {
		t.Errorf("empty buckets: err = %v, want one naming task_result_size", err)
	}
	// A name that is not a histogram (here a counter, and a misspelling) is
	// refused with the list of names that are.
	for _, name := range []string{"task_poll_counter", "task_poll_time_seconds_typo"} {
		_, err = NewPrometheus(reg, WithBuckets(name, []float64{1}))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q is not a histogram", name)) ||
			!strings.Contains(err.Error(), "task_execute_time, ") {
			t.Errorf("WithBuckets(%q): err = %v, want one naming it and listing the histograms", name, err)
		}
	}
	if mfs, _ := reg.Gather(); len(mfs) != 0 {
		t.Errorf("failed NewPrometheus calls registered %d families", len(mfs))
	}
}

// WithBuckets copies its slice, and every recorder gets its own defaults:
// changing one afterwards changes nothing already built.
func TestBucketsAreNotShared(t *testing.T) {
	mine := []float64{1, 2}
	a, regA := newTestRecorder(t, WithBuckets("task_execute_time", mine))
	mine[0] = 1.5
	a.ExecuteDone("t", 1200*time.Millisecond, "COMPLETED", "", 0)
	checkExposition(t, regA, "task_execute_time", expect(
		`task_execute_time_bucket{taskType="t",le="1"} 0`,
		`task_execute_time_bucket{taskType="t",le="2"} 1`,
		`task_execute_time_bucket{taskType="t",le="+Inf"} 1`,
		`task_execute_time_sum{taskType="t"} 1.2`,
		`task_execute_time_count{taskType="t"} 1`))

	d := defaultBuckets()
	d[nameTaskPollTime][0] = 99
	if got := defaultBuckets()[nameTaskPollTime][0]; got != .005 {
		t.Errorf("defaultBuckets shares its slices: first poll bucket = %v after a caller changed its copy", got)
	}
}

func TestRegistrationConflictIsAnErrorAndLeavesNoTrace(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Someone else already owns one of our names.
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "task_paused", Help: "not ours"})
	reg.MustRegister(other)

	if _, err := NewPrometheus(reg); err == nil {
		t.Fatal("NewPrometheus on a registry with a clashing name: want error, got nil")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "task_paused" {
		var names []string
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
		t.Fatalf("after a failed NewPrometheus the registry holds %v, want only the pre-existing task_paused", names)
	}

	// On a clean registry it works, and a second recorder on the same
	// registry is refused instead of panicking. (A fresh registry, because a
	// prometheus.Registry remembers the help text of unregistered names.)
	reg = prometheus.NewRegistry()
	first, err := NewPrometheus(reg)
	if err != nil {
		t.Fatalf("NewPrometheus: %v", err)
	}
	if _, err := NewPrometheus(reg); err == nil {
		t.Fatal("second NewPrometheus on the same registry: want error, got nil")
	}
	first.PollDone("a", 0, 0, "")
	checkExposition(t, reg, "task_poll_counter", `task_poll_counter{taskType="a"} 1`)
}

func TestTwoRecordersWithWrappedRegisterersShareARegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a, err := NewPrometheus(prometheus.WrapRegistererWith(prometheus.Labels{"runner": "a"}, reg))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewPrometheus(prometheus.WrapRegistererWith(prometheus.Labels{"runner": "b"}, reg))
	if err != nil {
		t.Fatal(err)
	}
	a.PollDone("x", 0, 0, "")
	b.PollDone("x", 0, 0, "")
	b.PollDone("x", 0, 0, "")
	checkExposition(t, reg, "task_poll_counter", expect(
		`task_poll_counter{runner="a",taskType="x"} 1`,
		`task_poll_counter{runner="b",taskType="x"} 2`))
}

func TestConcurrentRecordingIsExact(t *testing.T) {
	rec, _ := newTestRecorder(t)
	const goroutines, perG = 8, 500
	types := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				tt := types[(g+i)%len(types)]
				rec.PollDone(tt, 1, time.Millisecond, "")
				rec.ExecuteDone(tt, time.Millisecond, "COMPLETED", "", 10)
				rec.UpdateDone(tt, time.Millisecond, "")
				rec.SlotsChanged(tt, 1, 1)
			}
		})
	}
	wg.Wait()
	// Work out what each type must have received.
	want := map[string]float64{}
	for g := range goroutines {
		for i := range perG {
			want[types[(g+i)%len(types)]]++
		}
	}
	for _, tt := range types {
		if got := testutil.ToFloat64(rec.pollCounter.WithLabelValues(tt)); got != want[tt] {
			t.Errorf("task_poll_counter{taskType=%q} = %v, want %v", tt, got, want[tt])
		}
		if got := testutil.ToFloat64(rec.executed.WithLabelValues(tt, "COMPLETED")); got != want[tt] {
			t.Errorf("task_executed_total{taskType=%q} = %v, want %v", tt, got, want[tt])
		}
	}
}

// METRICS.md's "Histogram buckets" table is what users read to choose their
// own buckets: it must list every histogram with exactly its defaults.
func TestMetricsDocListsTheDefaultBuckets(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "METRICS.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Histogram buckets\n")
	if !ok {
		t.Fatal(`METRICS.md has no "## Histogram buckets" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([0-9., ]+) \\|$")
	documented := map[string][]float64{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		var bs []float64
		for _, f := range strings.Split(m[2], ", ") {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("METRICS.md, buckets of %s: %v", m[1], err)
			}
			bs = append(bs, v)
		}
		documented[m[1]] = bs
	}
	want := defaultBuckets()
	for name, bs := range want {
		if got, ok := documented[name]; !ok {
			t.Errorf("METRICS.md lists no buckets for %s (default %v)", name, bs)
		} else if !slices.Equal(got, bs) {
			t.Errorf("METRICS.md buckets of %s = %v, the code has %v", name, got, bs)
		}
	}
	for name := range documented {
		if _, ok := want[name]; !ok {
			t.Errorf("METRICS.md lists buckets for %s, which is not a histogram of the package", name)
		}
	}
}
