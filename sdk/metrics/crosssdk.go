package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// Cross-SDK metric names.
//
// The official Conductor SDKs (Java conductor-client-metrics, Python with
// WORKER_CANONICAL_METRICS=true, JavaScript, C#, Ruby) are converging on one
// catalog of worker metrics, so that one Grafana dashboard serves workers in
// every language. WithNames(NamesCrossSDK) or WithNames(NamesBoth) exports
// that catalog; METRICS.md lists what each name means in Baton and where the
// catalog comes from.

// NameSet selects the metric names a Prometheus recorder exports.
type NameSet int

const (
	// NamesBaton exports Baton's metrics: the original Go SDK's seven names
	// and Baton's own. The default.
	NamesBaton NameSet = iota
	// NamesCrossSDK exports only the names and labels of the other
	// Conductor SDKs' common catalog.
	NamesCrossSDK
	// NamesBoth exports both sets, e.g. while dashboards move from one to
	// the other.
	NamesBoth
)

func (s NameSet) String() string {
	switch s {
	case NamesBaton:
		return "baton"
	case NamesCrossSDK:
		return "cross-sdk"
	case NamesBoth:
		return "both"
	}
	return fmt.Sprintf("NameSet(%d)", int(s))
}

// WithNames selects the metric names exported (default NamesBaton).
func WithNames(s NameSet) Option {
	return func(o *options) { o.names = s }
}

// Names of the cross-SDK catalog.
const (
	NameXPollTotal         = "task_poll_total"                 // counter {taskType}
	NameXExecutionStarted  = "task_execution_started_total"    // counter {taskType}
	NameXPollErrorTotal    = "task_poll_error_total"           // counter {taskType, exception}
	NameXExecuteErrorTotal = "task_execute_error_total"        // counter {taskType, exception}
	NameXUpdateErrorTotal  = "task_update_error_total"         // counter {taskType, exception}
	NameXPollTime          = "task_poll_time_seconds"          // histogram {taskType, status}
	NameXExecuteTime       = "task_execute_time_seconds"       // histogram {taskType, status}
	NameXUpdateTime        = "task_update_time_seconds"        // histogram {taskType, status}
	NameXResultSize        = "task_result_size_bytes"          // histogram {taskType}
	NameXActiveWorkers     = "active_workers"                  // gauge {taskType}
	NameXHTTPRequest       = "http_api_client_request_seconds" // histogram {method, uri, status}

	LabelException = "exception"
	LabelURI       = "uri"

	// Values of the status label of the cross-SDK time histograms.
	StatusSuccess = "SUCCESS"
	StatusFailure = "FAILURE"
)

// Buckets of the cross-SDK catalog, as the other SDKs use them.
var (
	CrossSDKTimeBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	CrossSDKSizeBuckets = []float64{100, 1000, 10000, 100000, 1000000, 10000000}
)

// crossSDK holds the collectors of the cross-SDK catalog.
type crossSDK struct {
	poll          *prometheus.CounterVec
	started       *prometheus.CounterVec
	pollError     *prometheus.CounterVec
	executeError  *prometheus.CounterVec
	updateError   *prometheus.CounterVec
	pollTime      *prometheus.HistogramVec
	executeTime   *prometheus.HistogramVec
	updateTime    *prometheus.HistogramVec
	resultSize    *prometheus.HistogramVec
	activeWorkers *prometheus.GaugeVec
	http          *prometheus.HistogramVec
}

func newCrossSDK() *crossSDK {
	tt := []string{LabelTaskType}
	ttEx := []string{LabelTaskType, LabelException}
	ttSt := []string{LabelTaskType, LabelStatus}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, b []float64, labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: b}, labels)
	}
	return &crossSDK{
		poll:          counter(NameXPollTotal, "Poll requests made (cross-SDK name).", tt),
		started:       counter(NameXExecutionStarted, "Tasks handed to a handler (cross-SDK name).", tt),
		pollError:     counter(NameXPollErrorTotal, "Poll requests that failed, by Baton error kind (cross-SDK name).", ttEx),
		executeError:  counter(NameXExecuteErrorTotal, "Handler executions that failed, by Baton error kind (cross-SDK name).", ttEx),
		updateError:   counter(NameXUpdateErrorTotal, "Attempts to post a result that failed, by Baton error kind (cross-SDK name).", ttEx),
		pollTime:      histogram(NameXPollTime, "Duration of a poll request in seconds (cross-SDK name).", CrossSDKTimeBuckets, ttSt),
		executeTime:   histogram(NameXExecuteTime, "Duration of a handler call in seconds (cross-SDK name).", CrossSDKTimeBuckets, ttSt),
		updateTime:    histogram(NameXUpdateTime, "Duration of one attempt to post a result in seconds (cross-SDK name).", CrossSDKTimeBuckets, ttSt),
		resultSize:    histogram(NameXResultSize, "Size of the JSON-encoded task output in bytes (cross-SDK name).", CrossSDKSizeBuckets, tt),
		activeWorkers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameXActiveWorkers, Help: "Handlers running now (cross-SDK name)."}, tt),
		http:          histogram(NameXHTTPRequest, "Duration of HTTP requests to the Conductor server in seconds, by method, route template and status code (cross-SDK name).", CrossSDKTimeBuckets, []string{LabelMethod, LabelURI, LabelStatus}),
	}
}

func (x *crossSDK) collectors() []prometheus.Collector {
	return []prometheus.Collector{x.poll, x.started, x.pollError, x.executeError, x.updateError,
		x.pollTime, x.executeTime, x.updateTime, x.resultSize, x.activeWorkers, x.http}
}

func successOr(errKind worker.ErrorKind) string {
	if errKind == "" {
		return StatusSuccess
	}
	return StatusFailure
}

func (x *crossSDK) pollDone(taskType string, d time.Duration, errKind worker.ErrorKind) {
	x.poll.WithLabelValues(taskType).Inc()
	x.pollTime.WithLabelValues(taskType, successOr(errKind)).Observe(d.Seconds())
	if errKind != "" {
		x.pollError.WithLabelValues(taskType, boundKind(errKind)).Inc()
	}
}

func (x *crossSDK) executeDone(taskType string, d time.Duration, status string, errKind worker.ErrorKind, size int) {
	x.activeWorkers.WithLabelValues(taskType).Dec()
	st := StatusSuccess
	if errKind != "" || status == string(model.FailedTask) || status == string(model.FailedWithTerminalErrorTask) {
		st = StatusFailure
	}
	x.executeTime.WithLabelValues(taskType, st).Observe(d.Seconds())
	x.resultSize.WithLabelValues(taskType).Observe(float64(max(size, 0)))
	if errKind != "" {
		x.executeError.WithLabelValues(taskType, boundKind(errKind)).Inc()
	}
}

func (x *crossSDK) updateDone(taskType string, d time.Duration, errKind worker.ErrorKind) {
	x.updateTime.WithLabelValues(taskType, successOr(errKind)).Observe(d.Seconds())
	if errKind != "" {
		x.updateError.WithLabelValues(taskType, boundKind(errKind)).Inc()
	}
}

func (x *crossSDK) requestDone(endpoint, method string, code int, d time.Duration) {
	x.http.WithLabelValues(method, endpoint, boundCode(code)).Observe(d.Seconds())
}

// ExecuteStarted implements worker.Recorder: the runner calls it just
// before a handler runs.
func (p *Prometheus) ExecuteStarted(taskType string) {
	if p.cross != nil {
		p.cross.started.WithLabelValues(taskType).Inc()
		p.cross.activeWorkers.WithLabelValues(taskType).Inc()
	}
}

// collectorsFor lists what NewPrometheus registers for the name set.
func (p *Prometheus) collectorsFor(names NameSet, baton []prometheus.Collector) []prometheus.Collector {
	switch names {
	case NamesCrossSDK:
		return p.cross.collectors()
	case NamesBoth:
		return append(baton, p.cross.collectors()...)
	}
	return baton
}
