package worker

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkTracing measures what tracing costs per task at batch 10: off
// (no WithTracerProvider: one nil check per poll, task and update), with the
// API's no-op provider, and with the SDK recording into memory.
func BenchmarkTracing(b *testing.B) {
	sdkProvider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer func() { _ = sdkProvider.Shutdown(context.Background()) }()
	providers := map[string]func() Option{
		"off":  func() Option { return func(*runnerConfig) {} },
		"noop": func() Option { return WithTracerProvider(noop.NewTracerProvider()) },
		"sdk":  func() Option { return WithTracerProvider(sdkProvider) },
	}
	for _, name := range []string{"off", "noop", "sdk"} {
		b.Run("tracing="+name, func(b *testing.B) {
			f := &benchFake{fakeAPI: newFake(), done: make(chan struct{}), left: int64(b.N)}
			r := newRunner(f, WithLogger(quietLogger()), WithWorkerID("bench"), providers[name]())
			tasks := makeTasks("bench", "b", b.N)
			b.ReportAllocs()
			b.ResetTimer()
			f.push("", tasks...)
			if err := r.Start("bench", echo, BatchSize(10)); err != nil {
				b.Fatal(err)
			}
			<-f.done
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
			if err := r.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
			r.WaitWorkers()
		})
	}
}
