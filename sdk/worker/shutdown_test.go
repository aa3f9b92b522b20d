package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// heldIdleWorker starts a worker of task type "idle" that holds 5 s polls on
// a server that serves a poll to its end after its client went away
// (Conductor 3.32), and waits until its held poll is out. ran counts the
// tasks its handler ran.
func heldIdleWorker(t *testing.T) (b *bundle, ran *atomic.Int64) {
	t.Helper()
	b = setup(t, WithPollTimeout(5*time.Second))
	b.f.serveAbandoned = true
	ran = &atomic.Int64{}
	err := b.r.Start("idle", func(ctx context.Context, tk *model.Task) (interface{}, error) {
		ran.Add(1)
		return echo(ctx, tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The first poll takes what is queued at once; the second is held.
	waitFor(t, 5*time.Minute, "a held poll", func() bool { return b.f.pollCount() == 2 })
	synctest.Wait()
	if p := b.f.pollsCopy()[1]; p.timeout != 5*time.Second {
		t.Fatalf("second poll %+v, want a held one", p)
	}
	return b, ran
}

// Issue 23 point 6: a graceful Shutdown abandoned the held poll, and
// Conductor 3.32 handed the next task to it: IN_PROGRESS for a worker that
// was gone, for its whole response timeout. Shutdown now reads the poll to
// its end and runs what it brings.
func TestShutdownRunsTheTaskItsHeldPollBringsInsteadOfSwallowingIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, ran := heldIdleWorker(t)
		done := make(chan error, 1)
		go func() { done <- b.r.Shutdown(context.Background()) }()
		time.Sleep(time.Second) // Shutdown has begun; the poll is still out
		b.f.push("", makeTasks("idle", "late", 1)...)
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if ids := b.f.swallowedIDs(); len(ids) != 0 {
			t.Fatalf("tasks %v swallowed by a poll Shutdown abandoned", ids)
		}
		res := b.f.resultsOf("late-0")
		if ran.Load() != 1 || len(res) != 1 || res[0].Status != model.CompletedTask {
			t.Fatalf("task queued during Shutdown: ran %d times, results %+v; want it run and completed", ran.Load(), res)
		}
		if n := b.f.pollCount(); n != 2 {
			t.Fatalf("%d polls, want no poll after Shutdown began", n)
		}
	})
}

// When the shutdown deadline passes before the held poll ends, a task the
// poll then brings must not run, nor be left IN_PROGRESS: it is handed back
// with an IN_PROGRESS result without callbackAfterSeconds, which queues it
// again at once.
func TestShutdownHandsBackATaskThatArrivesAfterTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, ran := heldIdleWorker(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := b.r.Shutdown(ctx); !errors.Is(err, ErrShutdown) {
			t.Fatalf("Shutdown with a poll still out past its deadline: %v, want ErrShutdown", err)
		}
		b.f.push("", makeTasks("idle", "late", 1)...)
		b.r.WaitWorkers()
		if ids := b.f.swallowedIDs(); len(ids) != 0 {
			t.Fatalf("tasks %v swallowed by a poll Shutdown abandoned", ids)
		}
		if ran.Load() != 0 {
			t.Fatalf("handler ran %d times after the shutdown deadline", ran.Load())
		}
		res := b.f.resultsOf("late-0")
		if len(res) != 1 || res[0].Status != model.InProgressTask || res[0].CallbackAfterSeconds != 0 {
			t.Fatalf("results of the late task %+v, want one IN_PROGRESS with callbackAfterSeconds 0", res)
		}
	})
}

// A Shutdown with nothing queued waits for the held poll's timeout, and
// no poll starts after it began.
func TestShutdownWaitsForItsHeldPollToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := heldIdleWorker(t)
		t0 := time.Now()
		if err := b.r.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d <= 0 || d > 5*time.Second {
			t.Fatalf("Shutdown took %v, want the rest of the 5 s poll", d)
		}
		if n := b.f.pollCount(); n != 2 {
			t.Fatalf("%d polls, want no poll after Shutdown began", n)
		}
	})
}
