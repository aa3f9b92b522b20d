package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// countingSizer answers every queue-size request with empty queues, counts
// the requests and keeps the time of the last.
type countingSizer struct {
	requests atomic.Int64
	last     atomic.Int64 // unix nanoseconds
}

func (c *countingSizer) queueSizes(_ context.Context, queues []string) (map[string]int, error) {
	c.requests.Add(1)
	c.last.Store(time.Now().UnixNano())
	out := map[string]int{}
	for _, q := range queues {
		out[q] = 0
	}
	return out, nil
}

// Workers that start watching at different moments must share the
// watcher's requests: one request per poll interval for all of them, not
// one per worker's own phase (a fleet measurement on Conductor found 14-48
// requests/s per process where 10 were meant).
func TestWatcherSharesOneRequestPerIntervalAcrossPhases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &countingSizer{}
		w := newQueueWatcher(api, systemClock{}, quietLogger())
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
		const (
			interval = 100 * time.Millisecond
			workers  = 10
			watchFor = 5 * time.Second
		)
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i) * interval / workers) // each its own phase
				_, _ = w.wait(ctx, "q"+string(rune('a'+i)), interval, time.Now(), time.Now(), nil)
			}()
		}
		time.Sleep(watchFor)
		cancel()
		wg.Wait()
		got := api.requests.Load()
		// One request per interval, plus a few while the phases line up.
		if limit := int64(watchFor/interval) + workers; got > limit {
			t.Fatalf("%d queue-size requests in %v for %d idle workers with a %v interval, want at most %d (one per interval)",
				got, watchFor, workers, interval, limit)
		}
		if got < int64(watchFor/interval)/2 {
			t.Fatalf("only %d queue-size requests in %v: the watcher stopped checking", got, watchFor)
		}
	})
}

// The processes of a fleet must not look at their cold queues in step: with
// one clock-time grid for all, 50 processes started together looked at a
// cold queue at the same instants once a second, so a task for it waited
// for that instant however many processes there were. Each runner's grid
// has its own offset.
func TestRunnersOfAFleetLookAtColdQueuesOutOfStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const runners = 20
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		sizers := make([]*countingSizer, runners)
		start := time.Now()
		for i := range runners {
			sizers[i] = &countingSizer{}
			w := newQueueWatcher(sizers[i], systemClock{}, quietLogger())
			wg.Add(2)
			go func() {
				defer wg.Done()
				w.run(ctx)
			}()
			go func() {
				defer wg.Done()
				// 50 cold queues (no task yet), last polled at start.
				for q := range 50 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, _ = w.wait(ctx, fmt.Sprintf("q%02d", q), 100*time.Millisecond, time.Time{}, start, nil)
					}()
				}
			}()
		}
		time.Sleep(5500 * time.Millisecond) // in step with the grid of each
		cancel()
		wg.Wait()
		phases := map[time.Duration]bool{}
		for _, s := range sizers {
			phases[time.Unix(0, s.last.Load()).Sub(start)%coldCheckMax/(100*time.Millisecond)] = true
		}
		if len(phases) < 4 {
			t.Fatalf("%d runners looked at their cold queues in %d phases of 100 ms, want them spread over the second", runners, len(phases))
		}
	})
}

// setSizer answers queue-size requests with the sizes it was last given.
type setSizer struct {
	mu    sync.Mutex
	sizes map[string]int
}

func (s *setSizer) set(q string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizes[q] = n
}

func (s *setSizer) queueSizes(_ context.Context, queues []string) (map[string]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, q := range queues {
		out[q] = s.sizes[q]
	}
	return out, nil
}

// Issue 23, fleets: several processes watch one queue; the one that polls
// first takes the task and the others find nothing, which the watcher took
// for a task not yet due and ignored the queue for a second unless it grew.
// So every process that lost a race was deaf to the next task for up to a
// second. A queue seen empty since has no such task: the next one wakes the
// worker at the next check.
func TestWatchedQueueIsHeardAgainAfterAnotherProcessTookItsTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 100 * time.Millisecond
		api := &setSizer{sizes: map[string]int{}}
		w := newQueueWatcher(api, systemClock{}, quietLogger())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go w.run(ctx)
		api.set("q", 1) // a task another process will take
		if woken, n := w.wait(ctx, "q", interval, time.Now(), time.Now(), nil); !woken || n != 1 {
			t.Fatalf("not woken for a queued task: %v %d", woken, n)
		}
		w.falseWake("q", 1) // the other process polled first
		api.set("q", 0)
		woke := make(chan time.Time, 1)
		go func() { // the worker watches again, as a poller does
			if woken, _ := w.wait(ctx, "q", interval, time.Now(), time.Now(), nil); woken {
				woke <- time.Now()
			}
		}()
		time.Sleep(3 * interval)
		api.set("q", 1) // the next task
		at := time.Now()
		if d := (<-woke).Sub(at); d > 2*interval {
			t.Fatalf("woken %v after the next task was queued, want within an interval or two", d)
		}
	})
}
