package worker

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
)

func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// countingFake is a fake whose updates only count, so the benchmark measures
// the runner rather than the fake's bookkeeping.
type benchFake struct {
	*fakeAPI
	done chan struct{}
	left int64
}

func (f *benchFake) updateTask(_ context.Context, r *model.TaskResult) error {
	f.mu.Lock()
	f.left--
	if f.left == 0 {
		close(f.done)
	}
	f.mu.Unlock()
	return nil
}

func (f *benchFake) updateTaskV2(ctx context.Context, r *model.TaskResult) (*model.Task, error) {
	return nil, errUpdateV2Unsupported
}

// BenchmarkRunnerInMemory measures the runner's own overhead per task (poll
// bookkeeping, dispatch, execution, result building, reporting) against an
// in-memory server, with no metrics and with a recorder that counts.
func BenchmarkRunnerInMemory(b *testing.B) {
	for _, rec := range []string{"nop", "counting"} {
		for _, batch := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("metrics=%s/batch=%d", rec, batch), func(b *testing.B) {
				f := &benchFake{fakeAPI: newFake(), done: make(chan struct{}), left: int64(b.N)}
				opts := []Option{WithLogger(quietLogger()), WithWorkerID("bench")}
				if rec == "counting" {
					opts = append(opts, WithMetrics(newCountingRecorder()))
				}
				r := newRunner(f, opts...)
				tasks := makeTasks("bench", "b", b.N)
				b.ReportAllocs()
				b.ResetTimer()
				f.push("", tasks...)
				if err := r.Start("bench", echo, BatchSize(batch)); err != nil {
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
}

// BenchmarkExecute measures one task through the executor: context, handler
// call with panic guard, lease timer, result conversion, metrics call.
func BenchmarkExecute(b *testing.B) {
	for _, rec := range []struct {
		name string
		r    Recorder
	}{{"nop", NopRecorder{}}, {"counting", newCountingRecorder()}} {
		b.Run("metrics="+rec.name, func(b *testing.B) {
			r := newRunner(newFake(), WithLogger(quietLogger()), WithMetrics(rec.r))
			e := r.newTaskWorker(workerKey{"bench", ""}, echo, workerConfig{batchSize: 1, pollInterval: time.Second}).executor
			task := makeTasks("bench", "e", 1)[0]
			task.ResponseTimeoutSeconds = 3600
			b.ReportAllocs()
			for b.Loop() {
				res := e.execute(r.workCtx, &job{task: &task})
				if res.Status != model.CompletedTask {
					b.Fatal(res.Status)
				}
			}
		})
	}
}

// BenchmarkResultOf isolates building the result of a trivial handler.
func BenchmarkResultOf(b *testing.B) {
	task := makeTasks("bench", "r", 1)[0]
	out := map[string]interface{}{"echo": 1.0}
	b.ReportAllocs()
	for b.Loop() {
		res, _ := resultOf(&task, "w", out, nil)
		if res.Status != model.CompletedTask {
			b.Fatal(res.Status)
		}
	}
}

// BenchmarkIdempotencyKey measures the key derivation (SHA-1, formatting).
func BenchmarkIdempotencyKey(b *testing.B) {
	task := makeTasks("bench", "k", 1)[0]
	b.ReportAllocs()
	for b.Loop() {
		if TaskIdempotencyKey(&task) == "" {
			b.Fatal("empty")
		}
	}
}

// BenchmarkIdlePickup measures the pickup latency of an idle worker with
// default settings against the in-memory fake in each of the real servers'
// held-poll behaviours (see strategy.go). Tasks arrive at random moments.
//
//	go test -run '^$' -bench IdlePickup -benchtime 40x ./sdk/worker/
func BenchmarkIdlePickup(b *testing.B) {
	for _, m := range []struct {
		name string
		mode fakeMode
	}{{"early", fakeEarly}, {"hold", fakeHold}, {"full-batch", fakeFullBatch}} {
		b.Run(m.name, func(b *testing.B) { benchIdlePickup(b, m.mode) })
	}
}

func benchIdlePickup(b *testing.B, mode fakeMode) {
	f := newFake()
	f.mode = mode
	r := newRunner(f, WithLogger(quietLogger()))
	entered := make(chan time.Time, 1)
	if err := r.Start("idle", func(context.Context, *model.Task) (interface{}, error) {
		entered <- time.Now()
		return nil, nil
	}); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		time.Sleep(time.Duration(rand.Int64N(int64(300 * time.Millisecond))))
		b.StartTimer()
		t0 := time.Now()
		f.push("", makeTasks("idle", fmt.Sprint("s", i), 1)...)
		lat = append(lat, (<-entered).Sub(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(float64(r.Workers()[0].PollTimeout.Milliseconds()), "held-timeout-ms")
	if err := r.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	r.WaitWorkers()
}
