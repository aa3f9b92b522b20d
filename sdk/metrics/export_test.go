package metrics

// ProvideMetricsContext is ProvideMetrics with a context that stops it and a
// logger, so that tests can run the original recipe without leaking its
// server goroutine.
var ProvideMetricsContext = provideMetrics
