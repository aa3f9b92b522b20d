package metrics

import (
	"github.com/baton-go/baton/sdk/worker"

	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The benchmarks cover the calls a runner makes per poll, per task and per
// HTTP request. Run with:
//
//	go test -run '^$' -bench . -benchmem ./sdk/metrics/
func benchRecorders(b *testing.B) map[string]worker.Recorder {
	b.Helper()
	p, err := NewPrometheus(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	return map[string]worker.Recorder{"nop": worker.NopRecorder{}, "prometheus": p}
}

func BenchmarkPollDone(b *testing.B) {
	for name, r := range benchRecorders(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.PollDone("encode_video", 3, 40*time.Millisecond, "")
			}
		})
	}
}

func BenchmarkPollDoneError(b *testing.B) {
	for name, r := range benchRecorders(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.PollDone("encode_video", 0, 40*time.Millisecond, worker.ErrorKindServer)
			}
		})
	}
}

func BenchmarkExecuteDone(b *testing.B) {
	for name, r := range benchRecorders(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.ExecuteDone("encode_video", 12*time.Millisecond, "COMPLETED", "", 512)
			}
		})
	}
}

func BenchmarkUpdateDone(b *testing.B) {
	for name, r := range benchRecorders(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.UpdateDone("encode_video", 3*time.Millisecond, "")
			}
		})
	}
}

func BenchmarkSlotsChanged(b *testing.B) {
	for name, r := range benchRecorders(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.SlotsChanged("encode_video", 4, 6)
			}
		})
	}
}

// BenchmarkTaskRoundTripParallel is one task's worth of recorder calls from
// many goroutines at once, as a busy runner makes them.
func BenchmarkTaskRoundTripParallel(b *testing.B) {
	for name, r := range benchRecorders(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r.PollDone("encode_video", 1, time.Millisecond, "")
					r.SlotsChanged("encode_video", 1, 9)
					r.ExecuteDone("encode_video", time.Millisecond, "COMPLETED", "", 64)
					r.UpdateDone("encode_video", time.Millisecond, "")
					r.SlotsChanged("encode_video", 0, 10)
				}
			})
		})
	}
}

func BenchmarkRequestDone(b *testing.B) {
	p, err := NewPrometheus(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.RequestDone("/tasks/poll/batch/{taskType}", "GET", 200, 40*time.Millisecond)
	}
}

func BenchmarkTokenRefreshed(b *testing.B) {
	p, err := NewPrometheus(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	errRefresh := errors.New("refresh failed")
	b.ReportAllocs()
	for b.Loop() {
		p.TokenRefreshed(errRefresh)
	}
}
