package metrics

import (
	"context"
	"net"
	"testing"
)

// ProvideMetricsContext is ProvideMetrics with a context that stops it and a
// logger, so that tests can run the original recipe without leaking its
// server goroutine.
var ProvideMetricsContext = provideMetrics

// ServeOnLoopback serves e on a free loopback port until the test ends and
// returns the scrape URL: what a program does with WithListener.
func ServeOnLoopback(t testing.TB, e *Exporter, opts ...ServeOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.Serve(ctx, append(opts, WithListener(ln))...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Exporter.Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + e.settings.ApiEndpoint
}
