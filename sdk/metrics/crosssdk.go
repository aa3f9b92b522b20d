package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// Cross-SDK metric names (their list is in catalog.go).
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

func newCrossSDK(buckets map[string][]float64) *crossSDK {
	tt := []string{labelTaskType}
	ttEx := []string{labelTaskType, labelException}
	ttSt := []string{labelTaskType, labelStatus}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets[name]}, labels)
	}
	return &crossSDK{
		poll:          counter(nameXPollTotal, "Poll requests made (cross-SDK name).", tt),
		started:       counter(nameXExecutionStarted, "Tasks handed to a handler (cross-SDK name).", tt),
		pollError:     counter(nameXPollErrorTotal, "Poll requests that failed, by Baton error kind (cross-SDK name).", ttEx),
		executeError:  counter(nameXExecuteErrorTotal, "Handler executions that failed, by Baton error kind (cross-SDK name).", ttEx),
		updateError:   counter(nameXUpdateErrorTotal, "Attempts to post a result that failed, by Baton error kind (cross-SDK name).", ttEx),
		pollTime:      histogram(nameXPollTime, "Duration of a poll request in seconds (cross-SDK name).", ttSt),
		executeTime:   histogram(nameXExecuteTime, "Duration of a handler call in seconds (cross-SDK name).", ttSt),
		updateTime:    histogram(nameXUpdateTime, "Duration of one attempt to post a result in seconds (cross-SDK name).", ttSt),
		resultSize:    histogram(nameXResultSize, "Size of the JSON-encoded task output in bytes (cross-SDK name).", tt),
		activeWorkers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: nameXActiveWorkers, Help: "Handlers running now (cross-SDK name)."}, tt),
		http:          histogram(nameXHTTPRequest, "Duration of HTTP requests to the Conductor server in seconds, by method, route template and status code (cross-SDK name).", []string{labelMethod, labelURI, labelStatus}),
	}
}

func (x *crossSDK) collectors() []prometheus.Collector {
	return []prometheus.Collector{x.poll, x.started, x.pollError, x.executeError, x.updateError,
		x.pollTime, x.executeTime, x.updateTime, x.resultSize, x.activeWorkers, x.http}
}

func successOr(errKind worker.ErrorKind) string {
	if errKind == "" {
		return statusSuccess
	}
	return statusFailure
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
	st := statusSuccess
	if errKind != "" || status == string(model.FailedTask) || status == string(model.FailedWithTerminalErrorTask) {
		st = statusFailure
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
