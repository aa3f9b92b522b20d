// Package metrics measures what Baton workers do and exports it to
// Prometheus. METRICS.md at the repository root lists every metric with its
// labels, unit, default buckets and example queries; the metric names are
// not Go constants, because dashboards and alerts are written against the
// exposition.
//
// Prometheus is the recorder: it implements worker.Recorder for the task
// runner and client.Observer for the HTTP client (RequestDone,
// TokenRefreshed), and registers its collectors on a prometheus.Registerer.
//
// # The original SDK's recipe
//
// A runner created without worker.WithMetrics reports to DefaultRecorder, on
// client_golang's default registry, and ProvideMetrics without a registry
// serves that registry, so the original docs' two lines export the task
// series as they did there:
//
//	go metrics.ProvideMetrics(settings.NewDefaultMetricsSettings()) // :2112/metrics
//	runner := worker.NewTaskRunnerWithApiClient(apiClient)
//
// ProvideMetrics logs a port in use at error level as well as returning it,
// since the go statement drops the error. The default registry is the one
// piece of global state the SDK uses, and only on this path; the forms below
// keep a runner's metrics on a registry you own.
//
// # Serving: one way
//
// An Exporter owns a private registry (with the Go runtime and process
// collectors), a recorder registered on it, and the endpoint of the
// settings. Exporter.Serve is the one way to serve it: it blocks until its
// context ends, then shuts down, and reports a port in use at once:
//
//	exp, err := metrics.NewExporter(settings.NewDefaultMetricsSettings())
//	if err != nil { ... }
//	apiClient := client.NewAPIClient(auth, httpSettings, client.WithObserver(exp.Recorder()))
//	runner := worker.NewTaskRunnerWithApiClient(apiClient, worker.WithMetrics(exp.Recorder()))
//	go func() {
//		if err := exp.Serve(ctx, metrics.WithHandler("/status", runner.StatusHandler())); err != nil {
//			log.Fatal(err) // for example: port in use
//		}
//	}()
//
// The settings' Host (for example "127.0.0.1") keeps the endpoint off the
// network. To know the address before serving (port 0, or going on without
// metrics when the port is taken), bind it yourself and pass the listener
// with WithListener.
//
// The design follows what a client_golang user expects: the recorder is
// created on a Registerer you choose, and an application that already serves
// a registry of its own needs nothing from this package but
// NewPrometheus(reg); promhttp keeps serving it. Two runners on one registry
// are told apart by wrapping it:
// prometheus.WrapRegistererWith(prometheus.Labels{"runner": "a"}, reg).
//
// # Options
//
// WithNames picks Baton's names, the names the other Conductor SDKs share,
// or both; WithBuckets replaces the buckets of one histogram, named as in
// METRICS.md. Both apply to NewPrometheus and NewExporter.
package metrics
