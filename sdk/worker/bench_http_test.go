package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// Benchmarks over HTTP against the dev server on loopback, with a trivial
// handler. Run with:
//
//	go test -run '^$' -bench 'DevServer' -benchtime 20000x ./sdk/worker/
func BenchmarkDevServerThroughput(b *testing.B) {
	for _, v2 := range []bool{true, false} {
		for _, batch := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("updatev2=%v/batch=%d", v2, batch), func(b *testing.B) {
				e := newITEnv(b)
				e.defineSequence(b, "tp", "tp_task", 1, nil)
				ids := e.start(b, "tp", b.N, nil)
				opts := []Option{WithUpdateV2(v2)}
				r := e.runner(b, opts...)
				b.ResetTimer()
				if err := r.Start("tp_task", echo, BatchSize(batch)); err != nil {
					b.Fatal(err)
				}
				e.wait(b, 10*time.Minute, ids)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
				st := e.srv.Stats()
				b.ReportMetric(float64(st.Polls)/float64(b.N), "polls/task")
			})
		}
	}
}

// BenchmarkDevServerIdlePickup measures, for an idle worker with default
// settings, the time from starting a one-task workflow to its handler
// starting. Workflows are started at random moments 0..200 ms apart so the
// worker is idle (in a long poll) each time.
func BenchmarkDevServerIdlePickup(b *testing.B) {
	e := newITEnv(b)
	e.defineSequence(b, "idle", "idle_task", 1, nil)
	r := e.runner(b)
	entered := make(chan time.Time, 1)
	if err := r.Start("idle_task", func(context.Context, *model.Task) (interface{}, error) {
		entered <- time.Now()
		return nil, nil
	}); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		time.Sleep(time.Duration(rand.Int64N(int64(200 * time.Millisecond))))
		b.StartTimer()
		t0 := time.Now()
		if _, err := e.srv.StartWorkflow(model.StartWorkflowRequest{Name: "idle", Version: 1, Input: map[string]interface{}{}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-entered).Sub(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(r.Workers()[0].PollTimeout.Milliseconds()), "poll-timeout-ms")
}

// BenchmarkDevServerIdleRequests counts the requests an idle worker with
// default settings makes per minute (measured over 15 s after the timeout has
// adapted). One iteration is enough: -benchtime 1x.
func BenchmarkDevServerIdleRequests(b *testing.B) {
	for i := 0; i < b.N; i++ {
		e := newITEnv(b)
		e.defineSequence(b, "ir", "ir_task", 1, nil)
		r := e.runner(b)
		if err := r.Start("ir_task", echo); err != nil {
			b.Fatal(err)
		}
		// A few tasks arriving while the worker waits teach it that this
		// server answers long polls early.
		for k := 0; k < wokeNeeded+2; k++ {
			time.Sleep(150 * time.Millisecond)
			ids := e.start(b, "ir", 1, nil)
			e.wait(b, 10*time.Second, ids)
		}
		time.Sleep(6 * time.Second) // let the poll in flight end
		before := e.srv.Stats().Polls
		const window = 15 * time.Second
		time.Sleep(window)
		polls := e.srv.Stats().Polls - before
		b.ReportMetric(float64(polls)*float64(time.Minute)/float64(window), "req/min")
		b.ReportMetric(float64(r.Workers()[0].PollTimeout.Milliseconds()), "poll-timeout-ms")
	}
}
