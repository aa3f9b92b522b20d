// Package metrics measures what Baton workers do and exports it to
// Prometheus.
//
// The task runner reports events through the small Recorder interface.
// Prometheus is the real implementation: it registers its collectors on a
// prometheus.Registerer and also observes the HTTP client through
// RequestDone and TokenRefreshed. NopRecorder records nothing. METRICS.md at
// the repository root lists every metric with its labels and example
// queries.
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
// # Wiring
//
// The simplest setup is an Exporter, which owns a private registry, a
// recorder registered on it and the HTTP endpoint from the settings:
//
//	exp, err := metrics.NewExporter(settings.NewDefaultMetricsSettings())
//	if err != nil { ... }
//	go exp.ListenAndServe() // http://host:2112/metrics
//	apiClient := client.NewAPIClient(auth, httpSettings, client.WithObserver(exp.Recorder()))
//	runner := worker.NewTaskRunnerWithApiClient(apiClient, worker.WithMetrics(exp.Recorder()))
//
// With your own registry (for example one that already serves your
// application's metrics), create the recorder on it and serve it yourself,
// or with ProvideMetrics, the blocking form from the original SDK:
//
//	reg := prometheus.NewRegistry()
//	rec, err := metrics.NewPrometheus(reg)
//	if err != nil { ... }
//	go metrics.ProvideMetrics(settings.NewDefaultMetricsSettings(), reg)
//
// Pass the recorder to the runner with worker.WithMetrics (and to the client
// with client.WithObserver for the conductor_* series).
//
// For a server you can stop, use Serve (blocks until its context ends) or
// NewServer with Start and Stop. Both report a port in use as an error.
//
// To tell two runners apart on one registry, wrap it:
// prometheus.WrapRegistererWith(prometheus.Labels{"runner": "a"}, reg).
package metrics
