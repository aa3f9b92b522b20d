package worker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// task returns a first-poll task queued wait before it was handed out.
func queuedTask(wait time.Duration) model.Task {
	return model.Task{PollCount: 1, ScheduledTime: 1_000_000, StartTime: 1_000_000 + wait.Milliseconds()}
}

func TestStrategyIdleWait(t *testing.T) {
	s := newPollStrategy()
	if got := s.idle(timeoutChoice{}, true, true, false); got != idleProbe {
		t.Fatalf("worker with a permit on an unknown server: %v, want probe", got)
	}
	if got := s.idle(timeoutChoice{}, true, true, true); got != idleHold || s.heldTimeout(timeoutChoice{}, got, 100*time.Millisecond, 0) != pollTimeoutDefault {
		t.Fatalf("worker with a permit on a server that wakes held polls: %v, want hold %v", got, pollTimeoutDefault)
	}
	if got := s.idle(timeoutChoice{}, false, true, true); got != idleWatch {
		t.Fatalf("worker without a permit: %v, want watch", got)
	}
	if got := s.idle(timeoutChoice{}, false, false, false); got != idleInterval {
		t.Fatalf("no permit, no watcher: %v, want interval", got)
	}
	if probe := s.heldTimeout(timeoutChoice{}, idleProbe, 100*time.Millisecond, 0); probe != 250*time.Millisecond {
		t.Fatalf("probe timeout %v, want two and a half poll intervals", probe)
	}
	if probe := s.heldTimeout(timeoutChoice{}, idleProbe, 100*time.Millisecond, 100*time.Millisecond); probe != 250*time.Millisecond {
		t.Fatalf("probe timeout of a cold worker among few %v, want two and a half poll intervals", probe)
	}
	if probe := s.heldTimeout(timeoutChoice{}, idleProbe, 100*time.Millisecond, time.Second); probe != time.Second {
		t.Fatalf("probe timeout of a cold worker among 50 %v, want their cold period, 1s", probe)
	}
	// A user's fixed timeout is never second-guessed.
	f, fixed2s := newPollStrategy(), timeoutChoice{true, 2 * time.Second}
	if got := f.idle(fixed2s, true, true, false); got != idleHold || f.heldTimeout(fixed2s, got, 0, time.Second) != 2*time.Second {
		t.Fatalf("fixed timeout: %v %v", got, f.heldTimeout(fixed2s, got, 0, time.Second))
	}
	z, fixed0 := newPollStrategy(), timeoutChoice{true, 0}
	if got := z.idle(fixed0, true, true, true); got != idleInterval {
		t.Fatalf("fixed timeout 0: %v", got)
	}
}

// What one held poll's answer teaches the scheduler about the server.
func TestSchedulerReadsHeldPollAnswers(t *testing.T) {
	const probe = 250 * time.Millisecond
	cases := []struct {
		name string
		held bool
		// elapsed is the poll's round trip; prevHeldEmpty the previous
		// poll's when it was held and empty, prevEnded how long before
		// this answer it ended.
		elapsed, prevHeldEmpty, prevEnded time.Duration
		task                              model.Task
		want                              string // "", "fast", "proof" (fast and counts to wokeNeeded), "slow" or "passed"
	}{
		{"queued before the poll (answered at once)", true, 5 * time.Millisecond, 0, 0, queuedTask(3 * time.Millisecond), ""},
		{"queued before the poll reached a loaded server", true, 300 * time.Millisecond, 0, 0, queuedTask(290 * time.Millisecond), ""},
		{"queued during the poll, handed over within SQLite's step", true, 190 * time.Millisecond, 0, 0, queuedTask(80 * time.Millisecond), "proof"},
		{"queued just after the poll arrived, handed over at once", true, 60 * time.Millisecond, 0, 0, queuedTask(2 * time.Millisecond), "fast"},
		{"queued during the poll, handed over a second late (another node)", true, 1040 * time.Millisecond, 0, 0, queuedTask(700 * time.Millisecond), "slow"},
		{"let pass by the previous held poll (3.21)", true, 3 * time.Millisecond, probe, 4 * time.Millisecond, queuedTask(180 * time.Millisecond), "slow"},
		{"queued late in the previous held poll, taken by the next (3.21 in a fleet)", true, 3 * time.Millisecond, probe, 4 * time.Millisecond, queuedTask(60 * time.Millisecond), "passed"},
		{"queued before the previous held poll reached the server", false, 3 * time.Millisecond, probe, 4 * time.Millisecond, queuedTask(230 * time.Millisecond), ""},
		{"queued after the previous held poll ended (the worker was watched since)", true, 3 * time.Millisecond, probe, 400 * time.Millisecond, queuedTask(180 * time.Millisecond), ""},
		{"a task handed out before (callback)", true, 200 * time.Millisecond, 0, 0, model.Task{PollCount: 2, ScheduledTime: 1, StartTime: 2}, ""},
	}
	for _, c := range cases {
		s := newScheduler(systemClock{}, 4)
		s.polled(&workerState{}, pollFacts{held: c.held, elapsed: c.elapsed, prevHeldEmpty: c.prevHeldEmpty, prevEnded: c.prevEnded}, []model.Task{c.task})
		got := ""
		switch {
		case len(s.samples) == 1 && s.samples[0] == sampleSlow:
			got = "slow"
		case len(s.samples) == 1 && s.samples[0] == samplePassed:
			got = "passed"
		case len(s.samples) == 1 && s.woke == 1:
			got = "proof"
		case len(s.samples) == 1:
			got = "fast"
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// wokeNeeded fast answers in a row prove that held polls wake; one slow
// answer undoes it; slowNeeded slow ones among sampleWindow end held polls,
// and so do passedNeeded in a row that are not fast.
func TestSchedulerVerdicts(t *testing.T) {
	w := &workerState{}
	fast := []model.Task{queuedTask(20 * time.Millisecond)}
	slow := []model.Task{queuedTask(700 * time.Millisecond)}
	held := func(elapsed time.Duration) pollFacts { return pollFacts{held: true, elapsed: elapsed} }
	s := newScheduler(systemClock{}, 4)
	for i := 1; i < wokeNeeded; i++ {
		if news := s.polled(w, held(200*time.Millisecond), fast); news != newsNone || s.wakesProven() {
			t.Fatalf("after %d fast answers: %v, proven %v", i, news, s.wakesProven())
		}
	}
	if news := s.polled(w, held(200*time.Millisecond), fast); news != newsWakes || !s.wakesProven() {
		t.Fatalf("after %d fast answers: %v, proven %v", wokeNeeded, news, s.wakesProven())
	}
	if news := s.polled(w, held(time.Second), slow); news != newsWakesUndone || s.wakesProven() {
		t.Fatalf("a slow answer after the proof: %v, proven %v", news, s.wakesProven())
	}
	for range sampleWindow - 1 {
		s.polled(w, held(200*time.Millisecond), fast)
	}
	// The first slow answer has left the window: one more is not enough.
	if news := s.polled(w, held(time.Second), slow); news == newsNeverWakes {
		t.Fatalf("two slow answers %d samples apart ended held polls", sampleWindow)
	}
	if news := s.polled(w, held(time.Second), slow); news != newsNeverWakes || s.holdsUseful() || s.wakesProven() {
		t.Fatalf("two slow answers in a row: %v, holds useful %v", news, s.holdsUseful())
	}

	// Tasks passed over by held polls and taken soon after by the next
	// poll: a fast answer in between starts the count again.
	passed := []model.Task{queuedTask(60 * time.Millisecond)}
	after := pollFacts{held: true, elapsed: 3 * time.Millisecond, prevHeldEmpty: 250 * time.Millisecond, prevEnded: 4 * time.Millisecond}
	p := newScheduler(systemClock{}, 4)
	for i := 1; i < passedNeeded; i++ {
		if news := p.polled(w, after, passed); news != newsNone {
			t.Fatalf("after %d passed-over tasks: %v", i, news)
		}
	}
	p.polled(w, held(200*time.Millisecond), fast)
	for i := 1; i < passedNeeded; i++ {
		if news := p.polled(w, after, passed); news != newsNone {
			t.Fatalf("after a fast answer and %d passed-over tasks: %v", i, news)
		}
	}
	if news := p.polled(w, after, passed); news != newsNeverWakes || p.holdsUseful() {
		t.Fatalf("%d passed-over tasks in a row: %v, holds useful %v", passedNeeded, news, p.holdsUseful())
	}
}

// pickups starts a worker on the fake in mode, pushes n isolated tasks at
// uneven moments and returns how long each waited for its handler.
func pickups(t *testing.T, b *bundle, taskType string, n int, opts ...WorkerOption) []time.Duration {
	t.Helper()
	var mu sync.Mutex
	started := map[string]time.Time{}
	if err := b.r.Start(taskType, func(_ context.Context, task *model.Task) (interface{}, error) {
		mu.Lock()
		started[task.TaskId] = time.Now()
		mu.Unlock()
		return nil, nil
	}, opts...); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	for i := 0; i < n; i++ {
		time.Sleep(time.Duration(700+37*i%300) * time.Millisecond)
		ts := makeTasks(taskType, fmt.Sprintf("%s%d", taskType, i), 1)
		at := time.Now()
		b.f.push("", ts...)
		waitFor(t, 5*time.Minute, "pickup", func() bool {
			mu.Lock()
			defer mu.Unlock()
			_, ok := started[ts[0].TaskId]
			return ok
		})
		mu.Lock()
		waits = append(waits, started[ts[0].TaskId].Sub(at))
		mu.Unlock()
	}
	return waits
}

func maxWait(ws []time.Duration) time.Duration { return slices.Max(ws) }

func TestIdlePickupOnEachServer(t *testing.T) {
	t.Run("early: learns to hold long polls", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.f.mode = fakeEarly
			waits := pickups(t, b, "e", 8)
			w := b.r.Workers()[0]
			if w.IdleWait != "hold" || w.PollTimeout != pollTimeoutDefault {
				t.Fatalf("after 8 isolated tasks on an early server: %s %v", w.IdleWait, w.PollTimeout)
			}
			// Once proven, pickup is immediate.
			if last := waits[len(waits)-1]; last > time.Millisecond {
				t.Fatalf("pickup on a proven early server took %v", last)
			}
			synctest.Wait()
			before := b.f.pollCount()
			time.Sleep(time.Minute)
			synctest.Wait()
			if n := b.f.pollCount() - before; n < 11 || n > 13 {
				t.Fatalf("%d polls in an idle minute, want about 12", n)
			}
		})
	})
	t.Run("hold: learns that held polls are never woken, then watches", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.f.mode = fakeHold
			waits := pickups(t, b, "h", 10)
			if m := maxWait(waits); m > pollIntervalDefault*probeTimeoutTenths/10+5*time.Millisecond {
				t.Fatalf("pickup waits %v; the longest should be about one probe", waits)
			}
			// Issue 23: once the server is seen to let tasks pass held
			// polls, probing stops and the watcher checks the queue once
			// per interval: faster, and one request per interval for all
			// idle types.
			if w := b.r.Workers()[0]; w.IdleWait != "watch" {
				t.Fatalf("idle wait %q on a server that never wakes a held poll, want watch; pickups %v", w.IdleWait, waits)
			}
			if last := waits[len(waits)-3:]; maxWait(last) > pollIntervalDefault+5*time.Millisecond {
				t.Fatalf("last pickups %v while watched, want within one poll interval", last)
			}
			synctest.Wait()
			before, sizesBefore := b.f.pollCount(), b.f.sizeRequests()
			time.Sleep(10 * time.Second)
			synctest.Wait()
			if n := b.f.pollCount() - before; n != 0 {
				t.Fatalf("%d polls in 10 idle seconds of a watched worker", n)
			}
			if n := b.f.sizeRequests() - sizesBefore; n < 90 || n > 101 {
				t.Fatalf("%d queue-size requests in 10 idle seconds, want about 100 (one per interval)", n)
			}
		})
	})
	t.Run("full-batch: wakes within the server's step", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.f.mode = fakeFullBatch
			waits := pickups(t, b, "f", 10, BatchSize(10))
			if m := maxWait(waits); m > 101*time.Millisecond {
				t.Fatalf("pickup waits %v at batch 10; a held poll for a partial batch was not woken", waits)
			}
			if w := b.r.Workers()[0]; w.IdleWait == "watch" {
				t.Fatal("a server that wakes held polls within its step was taken for one that never does")
			}
		})
	})
}

func TestBurstsAreNotHeldAsPartialBatches(t *testing.T) {
	for _, mode := range []fakeMode{fakeHold, fakeFullBatch} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				b.f.mode = mode
				if err := b.r.Start("pb", echo, BatchSize(10)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(1130 * time.Millisecond) // idle, part-way into a probe
				at := time.Now()
				b.f.push("", makeTasks("pb", "burst", 25)...)
				waitFor(t, 5*time.Minute, "burst", func() bool { return b.f.updatedCount() == 25 })
				// The probe that was waiting when the burst came may run out
				// its time (hold mode); after that no poll may wait again.
				probe := pollIntervalDefault * probeTimeoutTenths / 10
				if d := time.Since(at); d > probe+100*time.Millisecond {
					t.Fatalf("a burst of 25 at batch 10 took %v: a partial batch waited for a timeout", d)
				}
				for _, p := range b.f.pollsCopy() {
					if p.timeout > 0 && p.count != 1 {
						t.Fatalf("held poll for %d tasks: servers hold partial batches", p.count)
					}
				}
			})
		})
	}
}

func TestManyIdleTaskTypesHoldFewPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.f.mode = fakeHold
		const types = 200
		for i := 0; i < types; i++ {
			if err := b.r.Start(fmt.Sprintf("t%03d", i), echo); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		b.f.mu.Lock()
		sizes0 := b.f.sizesCalls
		b.f.mu.Unlock()
		polls0 := b.f.pollCount()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		b.f.mu.Lock()
		peak, sizes := b.f.heldPeak, b.f.sizesCalls-sizes0
		b.f.mu.Unlock()
		if peak > heldPollsDefault {
			t.Fatalf("%d held polls open at once, the bound is %d", peak, heldPollsDefault)
		}
		// The permit holder probes (cold: once a second); the other 199
		// cost a queue-size request or two per second, not a poll each.
		if n := b.f.pollCount() - polls0; n > heldPollsDefault*41 {
			t.Fatalf("%d polls in 10 idle seconds with %d task types", n, types)
		}
		// The watched types have never had a task: cold, looked at
		// together once per cold period (a second, with 200 of them).
		if sizes < 9 || sizes > 2*11 {
			t.Fatalf("%d queue-size requests in 10 s, want one or two per %v", sizes, coldCheckMax)
		}
		// A task for a watched type that never had one is picked up within
		// the cold period: a second, with 200 such types.
		at := time.Now()
		b.f.push("", makeTasks("t150", "x", 1)...)
		waitFor(t, 5*time.Minute, "watched pickup", func() bool { return b.f.updatedCount() == 1 })
		if d, most := time.Since(at), coldCheckMax+2*pollIntervalDefault; d > most {
			t.Fatalf("a watched type took %v to pick up, want at most %v", d, most)
		}
	})
}

func TestWatcherFallbacks(t *testing.T) {
	t.Run("server without queue sizes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, WithMaxHeldPolls(0))
			b.f.noSizes = true
			waits := pickups(t, b, "n", 3)
			if m := maxWait(waits); m > 2*pollIntervalDefault {
				t.Fatalf("pickup %v with interval polls", waits)
			}
			// The endpoint is given up after repeated answers over
			// watchMissingSpan, not on the first (issue 23); the worker
			// then polls in turn, here every interval (it is alone).
			time.Sleep(2 * watchMissingSpan)
			synctest.Wait()
			before := b.f.pollCount()
			time.Sleep(10 * time.Second)
			synctest.Wait()
			if n := b.f.pollCount() - before; n < 90 || n > 101 {
				t.Fatalf("%d polls in 10 s for one idle type without queue sizes, want about 100", n)
			}
		})
	})
	t.Run("tasks queued but not due wake the worker at most once a second", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, WithMaxHeldPolls(0))
			b.f.phantom = map[string]int{"p": 1}
			if err := b.r.Start("p", echo); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			before := b.f.pollCount()
			time.Sleep(10 * time.Second)
			synctest.Wait()
			if n := b.f.pollCount() - before; n > 11 {
				t.Fatalf("%d polls in 10 s for a queue whose only task is not due", n)
			}
			// A real task still gets through at once.
			at := time.Now()
			b.f.push("", makeTasks("p", "real", 1)...)
			waitFor(t, 5*time.Minute, "pickup", func() bool { return b.f.updatedCount() == 1 })
			if d := time.Since(at); d > 2*pollIntervalDefault {
				t.Fatalf("pickup took %v", d)
			}
		})
	})
	t.Run("failing queue-size checks let workers poll", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, WithMaxHeldPolls(0))
			b.f.sizesErr = func() error { return fmt.Errorf("boom") }
			waits := pickups(t, b, "s", 3)
			if m := maxWait(waits); m > 2*pollIntervalDefault {
				t.Fatalf("pickup %v while queue sizes fail", waits)
			}
		})
	})
}

func TestDisproofOnAServerThatChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.f.mode = fakeEarly
		pickups(t, b, "c", 6)
		if w := b.r.Workers()[0]; w.IdleWait != "hold" {
			t.Fatalf("not proven on an early server: %s", w.IdleWait)
		}
		// The server is replaced by one that never wakes a held poll: the
		// first task that waits out a held poll brings probes back.
		b.f.mu.Lock()
		b.f.mode = fakeHold
		b.f.mu.Unlock()
		time.Sleep(pollTimeoutDefault + 700*time.Millisecond) // the held poll open now ends first
		at := time.Now()
		b.f.push("", makeTasks("c", "missed", 1)...)
		waitFor(t, 5*time.Minute, "missed task", func() bool { return b.f.updatedCount() == 7 })
		if d := time.Since(at); d > pollTimeoutDefault+time.Millisecond {
			t.Fatalf("missed task waited %v", d)
		}
		synctest.Wait()
		if w := b.r.Workers()[0]; w.IdleWait != "probe" {
			t.Fatalf("after a missed task: %s", w.IdleWait)
		}
		if b.linesAt(4, "back to short idle polls") != 1 {
			t.Fatalf("the disproof was not logged once")
		}
	})
}

func TestUpdateV2OnlyWithABacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithUpdateV2(true))
		b.f.v2 = true
		pickups(t, b, "v", 5, BatchSize(5))
		synctest.Wait()
		b.f.mu.Lock()
		isolated := b.f.v2calls
		b.f.mu.Unlock()
		if isolated != 0 {
			t.Fatalf("%d update-v2 calls for isolated tasks: each would hold a server thread 100 ms on an empty queue", isolated)
		}
		b.f.push("", makeTasks("v", "backlog", 200)...)
		waitFor(t, 5*time.Minute, "backlog", func() bool { return b.f.updatedCount() == 205 })
		b.f.mu.Lock()
		defer b.f.mu.Unlock()
		if b.f.v2calls < 100 {
			t.Fatalf("%d update-v2 calls for a backlog of 200 at batch 5; it should save most polls", b.f.v2calls)
		}
	})
}

func TestBacklogPollsCoalesce(t *testing.T) {
	// With tasks queued, slots that free up one at a time are collected for
	// up to pollCoalesce, so a poll brings several tasks: on a real server a
	// poll costs about as much as a result.
	for _, batch := range []int{10, 100} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				b.f.updErr = func(n int, _ *model.TaskResult) error {
					time.Sleep(time.Duration(1+n%3) * time.Millisecond) // uneven round trips
					return nil
				}
				const n = 2000
				b.f.push("", makeTasks("co", "co", n)...)
				if err := b.r.Start("co", echo, BatchSize(batch)); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 5*time.Minute, "drained", func() bool { return b.f.updatedCount() == n })
				polls := b.f.pollCount()
				if perTask := float64(polls) / n; perTask > 2.5/float64(batch)+0.01 {
					t.Fatalf("%d polls for %d queued tasks at batch %d (%.3f per task); slots were polled for one by one", polls, n, batch, perTask)
				}
			})
		})
	}
}
