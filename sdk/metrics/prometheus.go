package metrics

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// Option changes how NewPrometheus (and NewExporter) build the recorder.
type Option func(*options)

type options struct {
	buckets []bucketsFor // in the order given; the last one for a name wins
	names   NameSet      // crosssdk.go
}

type bucketsFor struct {
	name    string
	buckets []float64
}

// WithBuckets sets the bucket upper bounds of the histogram called name, one
// of the histograms METRICS.md lists (for example "task_execute_time", in
// seconds, or "task_result_size", in bytes); METRICS.md also gives the
// defaults. The buckets must be strictly increasing. An unknown name is an
// error of NewPrometheus. The slice is copied.
func WithBuckets(name string, buckets []float64) Option {
	b := append([]float64(nil), buckets...)
	return func(o *options) { o.buckets = append(o.buckets, bucketsFor{name, b}) }
}

func validBuckets(name string, b []float64) error {
	if len(b) == 0 {
		return fmt.Errorf("metrics: %s buckets must not be empty", name)
	}
	for i := 1; i < len(b); i++ {
		if !(b[i] > b[i-1]) {
			return fmt.Errorf("metrics: %s buckets must be strictly increasing, got %v", name, b)
		}
	}
	return nil
}

// Prometheus is a Recorder that exports to a prometheus.Registerer chosen by
// the caller. It also observes the HTTP client (request counts and durations,
// token refreshes) through RequestDone and TokenRefreshed, which match the
// sdk/client Observer interface; this package does not import sdk/client so
// that metrics stays free of the HTTP stack.
//
// All methods are safe for concurrent use. The series of a task type are
// resolved once and cached, so the per-event cost is a map lookup plus the
// atomic updates of the underlying Prometheus collectors.
type Prometheus struct {
	pollError    *prometheus.CounterVec
	executeError *prometheus.CounterVec
	updateError  *prometheus.CounterVec
	pollCounter  *prometheus.CounterVec
	pollTime     *prometheus.HistogramVec
	executeTime  *prometheus.HistogramVec
	resultSize   *prometheus.HistogramVec

	updateTime     *prometheus.HistogramVec
	polled         *prometheus.CounterVec
	pollResult     *prometheus.CounterVec
	executed       *prometheus.CounterVec
	inFlight       *prometheus.GaugeVec
	freeSlots      *prometheus.GaugeVec
	paused         *prometheus.GaugeVec
	updateGiveUp   *prometheus.CounterVec
	leaseExtension *prometheus.CounterVec

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	tokenRefresh *prometheus.CounterVec
	tokenOK      prometheus.Counter
	tokenErr     prometheus.Counter

	cross *crossSDK // the cross-SDK names, nil unless asked for (crosssdk.go)

	// series caches taskSeries by task type (string -> *taskSeries). A
	// sync.Map fits: keys are written once and then only read.
	series sync.Map
}

// taskSeries holds the children of every vector whose only label is the task
// type, so the hot path skips the label hashing of WithLabelValues.
type taskSeries struct {
	pollCounter    prometheus.Counter
	pollTime       prometheus.Observer
	executeTime    prometheus.Observer
	resultSize     prometheus.Observer
	updateTime     prometheus.Observer
	updateError    prometheus.Counter
	polled         prometheus.Counter
	pollTasks      prometheus.Counter
	pollEmpty      prometheus.Counter
	pollError      prometheus.Counter
	inFlight       prometheus.Gauge
	freeSlots      prometheus.Gauge
	paused         prometheus.Gauge
	updateGiveUp   prometheus.Counter
	leaseExtension prometheus.Counter
	executed       [len(executedStatuses)]prometheus.Counter // indexed like executedStatuses
}

// executedStatuses are the values of the "status" label of
// task_executed_total; statusOther must stay last (see statusIndex).
var executedStatuses = [...]string{
	string(model.CompletedTask), string(model.FailedTask), string(model.FailedWithTerminalErrorTask),
	string(model.InProgressTask), statusOther,
}

// statusIndex returns the position of s in executedStatuses, or that of
// statusOther for anything unknown.
func statusIndex(s string) int {
	switch model.TaskResultStatus(s) {
	case model.CompletedTask:
		return 0
	case model.FailedTask:
		return 1
	case model.FailedWithTerminalErrorTask:
		return 2
	case model.InProgressTask:
		return 3
	}
	return len(executedStatuses) - 1
}

// NewPrometheus creates the collectors and registers them on reg. It returns
// an error, and registers nothing, when reg is nil, an option is invalid, or
// reg already holds a collector with one of these names (for instance a
// second recorder on the same registry; wrap reg with
// prometheus.WrapRegistererWith to tell two runners apart instead).
func NewPrometheus(reg prometheus.Registerer, opts ...Option) (*Prometheus, error) {
	return newPrometheus(reg, false, opts...)
}

// DefaultRecorder returns a recorder on client_golang's default registry
// (prometheus.DefaultRegisterer), the convention of the original SDK: a
// TaskRunner created without worker.WithMetrics reports here, and
// ProvideMetrics called without a registry serves it. Every call in a process
// shares the same collectors (the first call registers them, later ones
// adopt them), so two runners add up into one set of series, as they did in
// the original SDK. It fails only when the default registry holds a
// different collector under one of these names.
func DefaultRecorder() (*Prometheus, error) {
	return newPrometheus(prometheus.DefaultRegisterer, true)
}

// newPrometheus is NewPrometheus; with adopt, collectors already registered
// under the same names (by an earlier call with the same options) are used
// instead of failing.
func newPrometheus(reg prometheus.Registerer, adopt bool, opts ...Option) (*Prometheus, error) {
	if reg == nil {
		return nil, errors.New("metrics: registerer must not be nil")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	buckets := defaultBuckets()
	for _, b := range o.buckets {
		if _, ok := buckets[b.name]; !ok {
			known := slices.Sorted(maps.Keys(buckets))
			return nil, fmt.Errorf("metrics: WithBuckets: %q is not a histogram of this package (one of %s)", b.name, strings.Join(known, ", "))
		}
		if err := validBuckets(b.name, b.buckets); err != nil {
			return nil, err
		}
		buckets[b.name] = b.buckets
	}

	if o.names < NamesBaton || o.names > NamesBoth {
		return nil, fmt.Errorf("metrics: WithNames: unknown name set %d", int(o.names))
	}

	tt := []string{labelTaskType}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, tt)
	}
	histogram := func(name, help string, labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets[name]}, labels)
	}

	p := &Prometheus{
		pollError:    counter(nameTaskPollError, "Batch polls that failed, by error kind.", []string{labelTaskType, labelKind}),
		executeError: counter(nameTaskExecuteError, "Task executions that failed (handler error, terminal error, panic, invalid output), by error kind.", []string{labelTaskType, labelKind}),
		updateError:  counter(nameTaskUpdateError, "Attempts to post a task result that failed (each retry counts).", tt),
		pollCounter:  counter(nameTaskPollCounter, "Batch polls made, whatever their outcome.", tt),
		pollTime:     histogram(nameTaskPollTime, "Duration of a batch poll in seconds, long-poll wait included.", tt),
		executeTime:  histogram(nameTaskExecuteTime, "Duration of a handler call in seconds.", tt),
		resultSize:   histogram(nameTaskResultSize, "Size of the JSON-encoded task output in bytes.", tt),

		updateTime:     histogram(nameTaskUpdateTime, "Duration of one attempt to post a task result, in seconds.", tt),
		polled:         counter(nameTaskPolled, "Tasks received from batch polls.", tt),
		pollResult:     counter(nameTaskPollResult, "Batch polls by outcome: tasks (answered with work), empty (the long wait ran out), error.", []string{labelTaskType, labelResult}),
		executed:       counter(nameTaskExecuted, "Task executions by the status reported to the server.", []string{labelTaskType, labelStatus}),
		inFlight:       gauge(nameTaskInFlight, "Execution slots in use: tasks being executed or waiting for their result to be delivered."),
		freeSlots:      gauge(nameTaskFreeSlots, "Execution slots free for new tasks."),
		paused:         gauge(nameTaskPaused, "1 while polling of the task type is paused, else 0."),
		updateGiveUp:   counter(nameTaskUpdateGiveUp, "Task results that were never delivered: rejected for good or still failing at the shutdown deadline.", tt),
		leaseExtension: counter(nameTaskLeaseExtension, "Successful lease extensions of running tasks.", tt),

		httpRequests: counter(nameHTTPRequests, "HTTP requests to the Conductor server by endpoint template, method and status code (0 when no answer came).", []string{labelEndpoint, labelMethod, labelCode}),
		httpDuration: histogram(nameHTTPRequestDuration, "Duration of HTTP requests to the Conductor server in seconds.", []string{labelEndpoint, labelMethod}),
		tokenRefresh: counter(nameTokenRefresh, "Attempts to obtain an access token, by result.", []string{labelResult}),
	}
	if o.names != NamesBaton {
		p.cross = newCrossSDK(buckets)
	}
	if adopt {
		// The default registry (DefaultRecorder): the original docs' names,
		// shared by every runner of the process.
		if err := p.adopt(reg); err != nil {
			return nil, err
		}
	} else {
		cs := p.collectorsFor(o.names, p.collectors())
		for i, c := range cs {
			if err := reg.Register(c); err != nil {
				// Leave the registry as we found it.
				for _, done := range cs[:i] {
					reg.Unregister(done)
				}
				return nil, fmt.Errorf("metrics: register collectors: %w", err)
			}
		}
	}
	p.tokenOK = p.tokenRefresh.WithLabelValues(tokenRefreshSuccess)
	p.tokenErr = p.tokenRefresh.WithLabelValues(tokenRefreshError)
	return p, nil
}

func (p *Prometheus) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		p.pollError, p.executeError, p.updateError, p.pollCounter, p.pollTime, p.executeTime, p.resultSize,
		p.updateTime, p.polled, p.pollResult, p.executed, p.inFlight, p.freeSlots, p.paused, p.updateGiveUp,
		p.leaseExtension, p.httpRequests, p.httpDuration, p.tokenRefresh,
	}
}

// adopt registers p's collectors on reg, taking over the ones an earlier
// recorder registered there under the same name.
func (p *Prometheus) adopt(reg prometheus.Registerer) error {
	errs := []error{
		adoptOne(reg, &p.pollError), adoptOne(reg, &p.executeError), adoptOne(reg, &p.updateError),
		adoptOne(reg, &p.pollCounter), adoptOne(reg, &p.pollTime), adoptOne(reg, &p.executeTime),
		adoptOne(reg, &p.resultSize), adoptOne(reg, &p.updateTime), adoptOne(reg, &p.polled),
		adoptOne(reg, &p.pollResult), adoptOne(reg, &p.executed), adoptOne(reg, &p.inFlight),
		adoptOne(reg, &p.freeSlots), adoptOne(reg, &p.paused), adoptOne(reg, &p.updateGiveUp),
		adoptOne(reg, &p.leaseExtension), adoptOne(reg, &p.httpRequests), adoptOne(reg, &p.httpDuration),
		adoptOne(reg, &p.tokenRefresh),
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metrics: register collectors on the default registry: %w", err)
	}
	return nil
}

// adoptOne registers *c on reg or, when a collector of the same type is
// already registered under its name, replaces *c with that one.
func adoptOne[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return nil
		}
	}
	return err
}

// forType returns the cached series of a task type, creating them on first use.
func (p *Prometheus) forType(taskType string) *taskSeries {
	if s, ok := p.series.Load(taskType); ok {
		return s.(*taskSeries)
	}
	s := &taskSeries{
		pollCounter:    p.pollCounter.WithLabelValues(taskType),
		pollTime:       p.pollTime.WithLabelValues(taskType),
		executeTime:    p.executeTime.WithLabelValues(taskType),
		resultSize:     p.resultSize.WithLabelValues(taskType),
		updateTime:     p.updateTime.WithLabelValues(taskType),
		updateError:    p.updateError.WithLabelValues(taskType),
		polled:         p.polled.WithLabelValues(taskType),
		pollTasks:      p.pollResult.WithLabelValues(taskType, pollResultTasks),
		pollEmpty:      p.pollResult.WithLabelValues(taskType, pollResultEmpty),
		pollError:      p.pollResult.WithLabelValues(taskType, pollResultError),
		inFlight:       p.inFlight.WithLabelValues(taskType),
		freeSlots:      p.freeSlots.WithLabelValues(taskType),
		paused:         p.paused.WithLabelValues(taskType),
		updateGiveUp:   p.updateGiveUp.WithLabelValues(taskType),
		leaseExtension: p.leaseExtension.WithLabelValues(taskType),
	}
	for i, st := range executedStatuses {
		s.executed[i] = p.executed.WithLabelValues(taskType, st)
	}
	// The error counters start at zero for every kind they can take, so
	// rate() and absent() work before the first error (METRICS.md promises
	// every series of a task type from its first event).
	for _, k := range pollErrorKinds {
		p.pollError.WithLabelValues(taskType, k)
	}
	for _, k := range executeErrorKinds {
		p.executeError.WithLabelValues(taskType, k)
	}
	// Two goroutines may race to build the same entry; both built children of
	// the same vectors, so whichever is stored is equivalent.
	actual, _ := p.series.LoadOrStore(taskType, s)
	return actual.(*taskSeries)
}

// PollDone implements worker.Recorder.
func (p *Prometheus) PollDone(taskType string, tasks int, d time.Duration, errKind worker.ErrorKind) {
	if p.cross != nil {
		p.cross.pollDone(taskType, d, errKind)
	}
	s := p.forType(taskType)
	s.pollCounter.Inc()
	s.pollTime.Observe(d.Seconds())
	switch {
	case errKind != "":
		s.pollError.Inc()
		p.pollError.WithLabelValues(taskType, boundKind(errKind)).Inc()
	case tasks > 0:
		s.pollTasks.Inc()
		s.polled.Add(float64(tasks))
	default:
		s.pollEmpty.Inc()
	}
}

// ExecuteDone implements worker.Recorder.
func (p *Prometheus) ExecuteDone(taskType string, d time.Duration, status string, errKind worker.ErrorKind, resultSize int) {
	if p.cross != nil {
		p.cross.executeDone(taskType, d, status, errKind, resultSize)
	}
	s := p.forType(taskType)
	s.executeTime.Observe(d.Seconds())
	if resultSize < 0 {
		resultSize = 0
	}
	s.resultSize.Observe(float64(resultSize))
	s.executed[statusIndex(status)].Inc()
	if errKind != "" {
		p.executeError.WithLabelValues(taskType, boundKind(errKind)).Inc()
	}
}

// UpdateDone implements worker.Recorder.
func (p *Prometheus) UpdateDone(taskType string, d time.Duration, errKind worker.ErrorKind) {
	if p.cross != nil {
		p.cross.updateDone(taskType, d, errKind)
	}
	s := p.forType(taskType)
	s.updateTime.Observe(d.Seconds())
	if errKind != "" {
		s.updateError.Inc()
	}
}

// UpdateGaveUp implements worker.Recorder.
func (p *Prometheus) UpdateGaveUp(taskType string) { p.forType(taskType).updateGiveUp.Inc() }

// LeaseExtended implements worker.Recorder.
func (p *Prometheus) LeaseExtended(taskType string) { p.forType(taskType).leaseExtension.Inc() }

// SlotsChanged implements worker.Recorder.
func (p *Prometheus) SlotsChanged(taskType string, inFlight, free int) {
	s := p.forType(taskType)
	s.inFlight.Set(float64(inFlight))
	s.freeSlots.Set(float64(free))
}

// PausedChanged implements worker.Recorder.
func (p *Prometheus) PausedChanged(taskType string, paused bool) {
	v := 0.0
	if paused {
		v = 1
	}
	p.forType(taskType).paused.Set(v)
}

// RequestDone records one HTTP request made by the Conductor client.
// endpoint must be the route template (for example
// "/tasks/poll/batch/{taskType}"), never the expanded path. statusCode is 0
// when no answer arrived (connection error, timeout).
func (p *Prometheus) RequestDone(endpoint, method string, statusCode int, d time.Duration) {
	if p.cross != nil {
		p.cross.requestDone(endpoint, method, statusCode, d)
	}
	p.httpRequests.WithLabelValues(endpoint, method, boundCode(statusCode)).Inc()
	p.httpDuration.WithLabelValues(endpoint, method).Observe(d.Seconds())
}

// TokenRefreshed records one attempt to obtain an access token.
func (p *Prometheus) TokenRefreshed(err error) {
	if err != nil {
		p.tokenErr.Inc()
		return
	}
	p.tokenOK.Inc()
}

// boundKind maps anything outside the documented error kinds to "other", so
// a caller passing a raw error string cannot blow up the series count.
func boundKind(k worker.ErrorKind) string {
	for _, known := range pollErrorKinds {
		if string(k) == known {
			return known
		}
	}
	for _, known := range executeErrorKinds {
		if string(k) == known {
			return known
		}
	}
	return string(worker.ErrorKindOther)
}

// boundCode turns a status code into its label. The common codes are
// constants so the hot path does not allocate; anything outside 100-599 is
// "0", like a request that got no answer.
func boundCode(c int) string {
	switch c {
	case 200:
		return "200"
	case 204:
		return "204"
	case 0:
		return "0"
	}
	if c < 100 || c > 599 {
		return "0"
	}
	return strconv.Itoa(c)
}
