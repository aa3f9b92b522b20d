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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/settings"
)

// ShutdownTimeout bounds how long Serve and ProvideMetrics wait for scrapes in
// progress once their context ends.
const ShutdownTimeout = 5 * time.Second

// ServerOption changes how NewServer, Serve and Exporter.Serve expose metrics.
type ServerOption func(*serverOptions)

type serverOptions struct {
	host     string
	logger   logrus.FieldLogger
	handlers []route
}

type route struct {
	pattern string
	h       http.Handler
}

// WithHost sets the interface to listen on, for example "127.0.0.1" to keep
// the endpoint off the network. Default: "" (all interfaces, like the
// original SDK).
func WithHost(host string) ServerOption {
	return func(o *serverOptions) { o.host = host }
}

// WithLogger sets the logger for scrape errors and HTTP server errors.
// Default: a new logrus.Logger at warn level (never the global one).
func WithLogger(l logrus.FieldLogger) ServerOption {
	return func(o *serverOptions) { o.logger = l }
}

// WithHandler serves h at pattern beside the metrics path, on the same port:
// for instance a worker status or readiness handler. pattern follows
// http.ServeMux rules.
func WithHandler(pattern string, h http.Handler) ServerOption {
	return func(o *serverOptions) { o.handlers = append(o.handlers, route{pattern, h}) }
}

// Server serves a prometheus.Gatherer over HTTP on its own http.Server and
// ServeMux (never http.DefaultServeMux). Start binds the port and returns
// binding errors such as a port in use; Stop shuts the server down and waits
// for its goroutine. A Server is single-use: it cannot be started again after
// Stop.
type Server struct {
	addr   string
	path   string
	srv    *http.Server
	logger logrus.FieldLogger

	mu      sync.Mutex
	started bool
	stopped bool
	ln      net.Listener
	done    chan struct{} // closed when the serving goroutine has returned
	err     error         // what http.Server.Serve returned, other than ErrServerClosed
}

// NewServer checks s and prepares a server for g. Nothing is bound until
// Start.
func NewServer(s *settings.MetricsSettings, g prometheus.Gatherer, opts ...ServerOption) (*Server, error) {
	if s == nil {
		return nil, errors.New("metrics: settings must not be nil")
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if g == nil {
		return nil, errors.New("metrics: gatherer must not be nil")
	}
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		o.logger = l
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
			return nil, fmt.Errorf("metrics: WithHandler needs a pattern and a handler, got pattern %q", r.pattern)
		}
		if r.pattern == s.ApiEndpoint {
			return nil, fmt.Errorf("metrics: WithHandler pattern %q is the metrics path", r.pattern)
		}
		mux.Handle(r.pattern, r.h)
	}

	return &Server{
		addr:   net.JoinHostPort(o.host, strconv.Itoa(s.Port)),
		path:   s.ApiEndpoint,
		logger: logger,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			// net/http would otherwise print to the standard library's
			// global logger.
			ErrorLog: log.New(logWriter{logger}, "", 0),
		},
	}, nil
}

// logWriter turns net/http's error log lines into warnings.
type logWriter struct{ l logrus.FieldLogger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Start binds the address and serves in a goroutine owned by the Server. A
// port in use is reported here, as an error wrapping the system error
// (errors.Is(err, syscall.EADDRINUSE) holds).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("metrics: server already started")
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", s.addr, err)
	}
	s.started = true
	s.ln = ln
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.WithError(err).Error("metrics server stopped")
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}()
	return nil
}

// Addr is the bound address, or nil before Start. With port 0 in the
// settings it tells which port the system chose.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// URL is the scrape URL, for example "http://127.0.0.1:2112/metrics", or ""
// before Start. An unspecified listen address is shown as 127.0.0.1.
func (s *Server) URL() string {
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port)) + s.path
}

// Stop shuts the server down gracefully, waiting for scrapes in progress
// until ctx ends, then closes what is left. It returns once the serving
// goroutine has exited. Stop before Start, or a second Stop, does nothing.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.stopped {
		s.stopped = true
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	done := s.done
	s.mu.Unlock()

	err := s.srv.Shutdown(ctx)
	if err != nil {
		// Deadline passed with connections still open: cut them.
		_ = s.srv.Close()
	}
	<-done
	if err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}

// Run starts the server and serves until ctx ends, then stops it (waiting up
// to ShutdownTimeout for scrapes in progress). It returns nil after a stop
// caused by ctx, and an error when the port cannot be bound or the server
// fails.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	stopErr := s.Stop(stopCtx)
	s.mu.Lock()
	serveErr := s.err
	s.mu.Unlock()
	if serveErr != nil {
		return fmt.Errorf("metrics: serve on %s: %w", s.addr, serveErr)
	}
	return stopErr
}

// Serve exposes g at s.ApiEndpoint on port s.Port until ctx ends. It returns
// an error at once if the settings are invalid or the port cannot be bound,
// and nil after ctx ends and the server has stopped.
func Serve(ctx context.Context, s *settings.MetricsSettings, g prometheus.Gatherer, opts ...ServerOption) error {
	srv, err := NewServer(s, g, opts...)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
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
// error is also logged once at error level. Use Serve or an Exporter for a
// server you can stop.
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
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		logger = l
	}
	err := Serve(ctx, s, g, WithLogger(logger))
	if err != nil {
		logger.WithError(err).Error("metrics: not serving metrics")
	}
	return err
}

// NewRuntimeRegistry returns a new registry holding the Go runtime and
// process collectors, the series the global registry of client_golang would
// have shown.
func NewRuntimeRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Exporter bundles what a program usually wants: a private registry with the
// runtime collectors, a Prometheus recorder registered on it, and the HTTP
// endpoint from the settings. Give Recorder() to the task runner
// (worker.WithMetrics) and the HTTP client (as its observer), then Serve.
type Exporter struct {
	settings *settings.MetricsSettings
	reg      *prometheus.Registry
	rec      *Prometheus
}

// NewExporter checks s and builds the registry and recorder; opts configure
// the recorder. Nothing is bound until Serve or ListenAndServe.
func NewExporter(s *settings.MetricsSettings, opts ...Option) (*Exporter, error) {
	if s == nil {
		return nil, errors.New("metrics: settings must not be nil")
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	reg := NewRuntimeRegistry()
	rec, err := NewPrometheus(reg, opts...)
	if err != nil {
		return nil, err
	}
	return &Exporter{settings: s, reg: reg, rec: rec}, nil
}

// Recorder is the recorder whose metrics this exporter serves.
func (e *Exporter) Recorder() *Prometheus { return e.rec }

// Registry is the exporter's registry; register your own collectors on it to
// serve them on the same endpoint.
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

// NewServer prepares a Server for this exporter's registry, for callers that
// want Start/Stop or the bound address.
func (e *Exporter) NewServer(opts ...ServerOption) (*Server, error) {
	return NewServer(e.settings, e.reg, opts...)
}

// Serve serves the registry until ctx ends; see the package function Serve.
func (e *Exporter) Serve(ctx context.Context, opts ...ServerOption) error {
	return Serve(ctx, e.settings, e.reg, opts...)
}

// ListenAndServe serves the registry and blocks, returning only on error
// (the seed's "go ProvideMetrics(...)" shape).
func (e *Exporter) ListenAndServe(opts ...ServerOption) error {
	return Serve(context.Background(), e.settings, e.reg, opts...)
}
