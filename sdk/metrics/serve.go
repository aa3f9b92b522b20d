package metrics

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/settings"
)

const (
	// shutdownTimeout bounds how long a server whose context ended waits
	// for scrapes in progress before it closes their connections.
	shutdownTimeout = 5 * time.Second
	// readHeaderTimeout keeps a client that never finishes its request
	// headers from holding a connection.
	readHeaderTimeout = 10 * time.Second
)

// Exporter bundles what a program usually wants: a private registry with the
// Go runtime and process collectors, a Prometheus recorder registered on it,
// and the HTTP endpoint of the settings. Give Recorder() to the task runner
// (worker.WithMetrics) and to the HTTP client (client.WithObserver), then
// Serve.
type Exporter struct {
	settings settings.MetricsSettings
	reg      *prometheus.Registry
	rec      *Prometheus
}

// NewExporter checks s and builds the registry and the recorder; opts
// configure the recorder as for NewPrometheus. Nothing is bound until Serve.
func NewExporter(s *settings.MetricsSettings, opts ...Option) (*Exporter, error) {
	if err := checkSettings(s); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister( // a fresh registry: these cannot clash
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	rec, err := NewPrometheus(reg, opts...)
	if err != nil {
		return nil, err
	}
	return &Exporter{settings: *s, reg: reg, rec: rec}, nil
}

// Recorder is the recorder whose metrics this exporter serves.
func (e *Exporter) Recorder() *Prometheus { return e.rec }

// Registry is the exporter's registry; register your own collectors on it to
// serve them on the same endpoint.
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

// Serve serves the registry at the settings' path on their host and port
// until ctx ends, then shuts the server down, giving scrapes in progress a
// few seconds. It returns nil after ctx ended, and an error at once when the
// settings' address cannot be bound (errors.Is(err, syscall.EADDRINUSE)
// holds for a port in use) or later if the server fails. Every call runs a
// server of its own.
func (e *Exporter) Serve(ctx context.Context, opts ...ServeOption) error {
	return serve(ctx, &e.settings, e.reg, opts...)
}

// ServeOption changes how Exporter.Serve exposes the metrics.
type ServeOption func(*serveOptions)

type serveOptions struct {
	logger   logrus.FieldLogger
	ln       net.Listener
	lnSet    bool
	handlers []route
}

type route struct {
	pattern string
	h       http.Handler
}

// WithListener serves on ln instead of binding the settings' host and port
// (the path still comes from the settings). Listen first when the program
// needs the address before serving, for instance with port 0 or to go on
// without metrics when the port is taken. Serve closes ln when it returns.
func WithListener(ln net.Listener) ServeOption {
	return func(o *serveOptions) { o.ln, o.lnSet = ln, true }
}

// WithHandler serves h at pattern beside the metrics path, on the same port:
// for instance the runner's StatusHandler as a readiness probe. pattern
// follows http.ServeMux rules and must differ from the metrics path.
func WithHandler(pattern string, h http.Handler) ServeOption {
	return func(o *serveOptions) { o.handlers = append(o.handlers, route{pattern, h}) }
}

// WithLogger sets the logger for scrape errors and HTTP server errors.
// Default: a new logrus.Logger at warn level (never the global one).
func WithLogger(l logrus.FieldLogger) ServeOption {
	return func(o *serveOptions) { o.logger = l }
}

// ProvideMetrics serves metrics at s.ApiEndpoint on port s.Port and blocks,
// as in the original SDK's documentation:
//
//	go metrics.ProvideMetrics(settings.NewDefaultMetricsSettings())
//
// With no gatherer it serves client_golang's default registry: the Go
// runtime and process series, and the task series of every TaskRunner
// created without worker.WithMetrics (those report to DefaultRecorder). With
// gatherers it serves those instead (typically the registry a recorder was
// created on with NewPrometheus).
//
// It returns only on error, for instance a port in use. Because the
// documented form runs it in a go statement, where the error is lost, the
// error is also logged once at error level. Use Exporter.Serve for a server
// that stops with a context.
func ProvideMetrics(s *settings.MetricsSettings, gatherers ...prometheus.Gatherer) error {
	return provideMetrics(context.Background(), nil, s, gatherers...)
}

// provideMetrics is ProvideMetrics with a context and a logger (nil: a new
// logrus logger), for tests.
func provideMetrics(ctx context.Context, logger logrus.FieldLogger, s *settings.MetricsSettings, gatherers ...prometheus.Gatherer) error {
	var g prometheus.Gatherer
	switch len(gatherers) {
	case 0:
		g = prometheus.DefaultGatherer
	case 1:
		g = gatherers[0]
	default:
		g = prometheus.Gatherers(gatherers)
	}
	if logger == nil {
		logger = newLogger()
	}
	err := checkSettings(s)
	for i, g := range gatherers {
		if g == nil && err == nil {
			err = fmt.Errorf("metrics: gatherer %d must not be nil", i)
		}
	}
	if err == nil {
		err = serve(ctx, s, g, WithLogger(logger))
	}
	if err != nil {
		logger.WithError(err).Error("metrics: not serving metrics")
	}
	return err
}

func checkSettings(s *settings.MetricsSettings) error {
	if s == nil {
		return errors.New("metrics: settings must not be nil")
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

func newLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	return l
}

// serve is the one server of the package: Exporter.Serve and ProvideMetrics
// both run it. s has been checked. It owns the listener it binds or is given
// and closes it before returning.
func serve(ctx context.Context, s *settings.MetricsSettings, g prometheus.Gatherer, opts ...ServeOption) error {
	var o serveOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.ln != nil {
		defer o.ln.Close() // a no-op error once the server has closed it
	}
	if o.lnSet && o.ln == nil {
		return errors.New("metrics: WithListener needs a listener, got nil")
	}
	if o.logger == nil {
		o.logger = newLogger()
	}
	logger := o.logger.WithField("component", "metrics")

	mux := http.NewServeMux()
	mux.Handle(s.ApiEndpoint, promhttp.HandlerFor(g, promhttp.HandlerOpts{
		// A collector that fails should cost its own series, not the whole
		// scrape; the failure is logged.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      logger,
	}))
	for _, r := range o.handlers {
		if r.pattern == "" || r.h == nil {
			return fmt.Errorf("metrics: WithHandler needs a pattern and a handler, got pattern %q", r.pattern)
		}
		if r.pattern == s.ApiEndpoint {
			return fmt.Errorf("metrics: WithHandler pattern %q is the metrics path", r.pattern)
		}
		mux.Handle(r.pattern, r.h)
	}

	ln := o.ln
	if ln == nil {
		addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("metrics: listen on %s: %w", addr, err)
		}
		defer ln.Close()
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		// net/http would otherwise print to the standard library's global
		// logger.
		ErrorLog: log.New(logWriter{logger}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		// Serve returns only when the listener fails: nothing else stops it.
		return fmt.Errorf("metrics: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(stopCtx)
	if err != nil {
		// The deadline passed with scrapes still running: cut them.
		_ = srv.Close()
	}
	<-served // http.ErrServerClosed, now that the serving goroutine is done
	if err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}

// logWriter turns net/http's error log lines into warnings.
type logWriter struct{ l logrus.FieldLogger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}
