// Package metrics measures what Baton workers do and exports it to
// Prometheus.
//
// The task runner reports events through the small Recorder interface.
// NopRecorder, the default, records nothing, so a runner without metrics pays
// one empty interface call per event. Prometheus is the real implementation:
// it registers its collectors on a prometheus.Registerer that you supply (this
// package never touches the global registry or http.DefaultServeMux) and
// also observes the HTTP client through RequestDone and TokenRefreshed.
// METRICS.md at the repository root lists every metric with its labels and
// example queries.
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
// The original SDK's one-liner, go ProvideMetrics(settings), worked because
// the worker wrote into the process-wide default registry. This package
// keeps no package-level state, so that form alone serves only the Go runtime
// and process metrics: the runner's recorder must be registered on the
// registry that is served, as above. The trade-off buys two runners in one
// process that export to separate registries, and no registration panics
// merely for importing the package.
//
// For a server you can stop, use Serve (blocks until its context ends) or
// NewServer with Start and Stop. Both report a port in use as an error.
//
// To tell two runners apart on one registry, wrap it:
// prometheus.WrapRegistererWith(prometheus.Labels{"runner": "a"}, reg).
package metrics
