package worker

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// pollsOf returns the polls the fake received for taskType.
func pollsOf(f *fakeAPI, taskType string) []pollRequest {
	var out []pollRequest
	for _, p := range f.pollsCopy() {
		if p.taskType == taskType {
			out = append(out, p)
		}
	}
	return out
}

// Issue 23 point 5: in interval mode the poller slept its interval and then
// polled without looking at paused again; a poll after Pause returned took a
// task.
func TestNoPollAfterPauseReturnsInIntervalMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		if err := b.r.Start("iv", echo, PollTimeout(0), PollInterval(100*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
		synctest.Wait() // the poller sleeps its interval
		b.r.Pause("iv")
		before := len(pollsOf(b.f, "iv"))
		b.f.push("", makeTasks("iv", "p", 1)...)
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(pollsOf(b.f, "iv")) - before; n != 0 {
			t.Fatalf("%d poll(s) after Pause returned", n)
		}
		if b.f.queued("iv") != 1 {
			t.Fatal("a paused worker took the task")
		}
	})
}

// The same for a worker that waits on the queue watcher: a task queued
// after Pause must not wake it into a poll.
func TestNoPollAfterPauseReturnsWhileWatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(0))
		if err := b.r.Start("wt", echo); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
		synctest.Wait()
		b.r.Pause("wt")
		before := len(pollsOf(b.f, "wt"))
		b.f.push("", makeTasks("wt", "p", 1)...)
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(pollsOf(b.f, "wt")) - before; n != 0 {
			t.Fatalf("%d poll(s) after Pause returned", n)
		}
	})
}

// A batch size changed while the poller sleeps its interval applies to the
// poll that ends the sleep.
func TestBatchSizeChangeAppliesAtTheNextWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		if err := b.r.Start("bsw", echo, PollTimeout(0), PollInterval(time.Second), BatchSize(2)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait() // the poller sleeps its interval
		if err := b.r.SetBatchSize("bsw", 7); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		ps := pollsOf(b.f, "bsw")
		if len(ps) < 2 || ps[1].count != 7 {
			t.Fatalf("polls %+v: the poll after SetBatchSize(7) must ask for 7", ps)
		}
	})
}

// Issue 23 point 4: a PollTimeout(0) worker took a held-poll permit it never
// used, so with WithMaxHeldPolls(1) a worker started after it never held a
// poll.
func TestIntervalWorkerHoldsNoPermit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(1))
		if err := b.r.Start("interval", echo, PollTimeout(0)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		if err := b.r.Start("adaptive", echo); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		held := 0
		for _, p := range pollsOf(b.f, "adaptive") {
			if p.timeout > 0 {
				held++
			}
		}
		if held == 0 {
			t.Fatalf("the adaptive worker never held a poll; its polls: %+v", pollsOf(b.f, "adaptive"))
		}
	})
}

// Issue 23 point 1: a watched worker whose running tasks keep finishing was
// never checked: each finished task woke the poller, which started a new
// watch whose first check was a full interval away. 40 tasks finishing one
// every 50 ms against a 100 ms interval held a new task back until they were
// all done.
func TestWatchedWorkerIsCheckedEveryIntervalWhileTasksFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(0)) // idle workers watch
		const interval = 100 * time.Millisecond
		var newStarted atomic.Int64 // unix nanoseconds
		h := func(ctx context.Context, tk *model.Task) (interface{}, error) {
			if strings.HasPrefix(tk.TaskId, "new-") {
				newStarted.Store(time.Now().UnixNano())
				return nil, nil
			}
			i := int(tk.InputData["i"].(float64))
			time.Sleep(time.Second + time.Duration(i)*50*time.Millisecond)
			return nil, nil
		}
		b.f.push("", makeTasks("busy", "old", 40)...)
		if err := b.r.Start("busy", h, BatchSize(50), PollInterval(interval)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond) // tasks have begun to finish
		pushed := time.Now()
		b.f.push("", makeTasks("busy", "new", 1)...)
		waitFor(t, 5*time.Minute, "the new task to run", func() bool {
			synctest.Wait()
			return newStarted.Load() != 0
		})
		if d := time.Unix(0, newStarted.Load()).Sub(pushed); d > 2*interval {
			t.Fatalf("a task queued while 40 others finish one every 50 ms waited %v for a watched worker with a %v poll interval, want at most %v", d, interval, 2*interval)
		}
	})
}

// Issue 23 point 3: a queue-size answer without the worker's key read as 0,
// and the watched worker waited for ever.
func TestWatchedWorkerMissingFromTheAnswerStillPicksUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(0))
		b.f.sizesOmit = map[string]bool{"om": true}
		if err := b.r.Start("om", echo); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		at := time.Now()
		b.f.push("", makeTasks("om", "x", 1)...)
		waitFor(t, 5*time.Minute, "pickup", func() bool { return b.f.updatedCount() == 1 })
		if d := time.Since(at); d > 2*pollIntervalDefault {
			t.Fatalf("pickup took %v for a watched worker missing from queue-size answers", d)
		}
	})
}

// Issue 23 point 3: one 404 from GET /tasks/queue/sizes turned watching off
// for good. It now takes repeated answers over time, and is asked again later.
func TestQueueSizeEndpointGivenUpOnlyOnRepeatedEvidenceAndRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(0))
		calls := 0
		b.f.sizesErr = func() error {
			calls++
			if calls == 1 {
				return fmt.Errorf("GET /tasks/queue/sizes: 404: %w", errQueueSizesUnsupported)
			}
			return nil
		}
		if err := b.r.Start("ev", echo); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if w := b.r.Workers()[0]; w.IdleWait != "watch" {
			t.Fatalf("after one 404 among good answers: idle wait %q, want watch", w.IdleWait)
		}

		// A server that keeps answering 404 is given up, then asked again.
		b.f.mu.Lock()
		b.f.noSizes = true
		b.f.mu.Unlock()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		given := b.f.sizeRequests()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := b.f.sizeRequests() - given; n != 0 {
			t.Fatalf("%d queue-size requests in 10 s after 10 s of 404s, want none: the endpoint should be given up", n)
		}
		b.f.mu.Lock()
		b.f.noSizes = false
		b.f.mu.Unlock()
		time.Sleep(watchRetryAfter)
		synctest.Wait()
		asked := b.f.sizeRequests()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := b.f.sizeRequests() - asked; n < 5 {
			t.Fatalf("%d queue-size requests in a second after the endpoint came back, want it asked again", n)
		}
	})
}

// Issue 23 point 2: permits never rotated. The first type to go idle kept
// its permit for ever, so a busy type started later was left watching.
// Permits now follow traffic.
func TestPermitMovesToTheTypeWithTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(1))
		if err := b.r.Start("quiet", echo); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait() // quiet holds the one permit
		if err := b.r.Start("busy", echo); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			time.Sleep(2 * time.Second)
			b.f.push("", makeTasks("busy", fmt.Sprintf("b%d", i), 1)...)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		st := map[string]string{}
		for _, w := range b.r.Workers() {
			st[w.TaskType] = w.IdleWait
		}
		if st["busy"] == "watch" || st["quiet"] != "watch" {
			t.Fatalf("idle waits %v: the permit should have moved to the type with tasks", st)
		}
		b.f.mu.Lock()
		b.f.polls = nil
		b.f.mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		if ps := pollsOf(b.f, "quiet"); len(ps) != 0 {
			t.Fatalf("the quiet type polled %d times in an idle minute without a permit", len(ps))
		}
		held := 0
		for _, p := range pollsOf(b.f, "busy") {
			if p.timeout > 0 {
				held++
			}
		}
		if held == 0 {
			t.Fatal("the busy type held no poll")
		}
	})
}

// The permit does not move between idle types: a type without a recent
// task claims none, so idle types do not trade it round.
func TestIdleTypesDoNotTradePermits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(1))
		for _, tt := range []string{"first", "second", "third"} {
			if err := b.r.Start(tt, echo); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		st := map[string]string{}
		for _, w := range b.r.Workers() {
			st[w.TaskType] = w.IdleWait
		}
		if st["first"] == "watch" || st["second"] != "watch" || st["third"] != "watch" {
			t.Fatalf("idle waits %v: the first idle type keeps the permit while nobody has tasks", st)
		}
	})
}

// Issue 23 point 3: on a server without GET /tasks/queue/sizes every idle
// type fell back to polling at its interval: 40 types, 400 polls a second.
// The fallback now lets watchFallbackPolls workers poll per interval, in
// turn, and every type still gets its turn.
func TestFallbackWithoutQueueSizesDoesNotMultiplyByTaskTypes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(0))
		b.f.noSizes = true
		const types = 40
		for i := range types {
			if err := b.r.Start(fmt.Sprintf("t%02d", i), echo); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Second) // past the evidence span
		synctest.Wait()
		before := b.f.pollCount()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		intervals := int(10 * time.Second / pollIntervalDefault)
		if n := b.f.pollCount() - before; n > watchFallbackPolls*intervals+types {
			t.Fatalf("%d polls in 10 s for %d idle types without queue sizes, want at most about %d (%d per interval)",
				n, types, watchFallbackPolls*intervals, watchFallbackPolls)
		}
		at := time.Now()
		b.f.push("", makeTasks("t17", "x", 1)...)
		waitFor(t, 5*time.Minute, "pickup", func() bool { return b.f.updatedCount() == 1 })
		// Every type's turn comes within types/watchFallbackPolls intervals.
		if d, most := time.Since(at), (types/watchFallbackPolls+2)*pollIntervalDefault; d > most {
			t.Fatalf("pickup took %v, want at most %v", d, most)
		}
	})
}

// Issue 23 point 3: a process serving many task types that never get a task
// had the watcher name every one of them in a queue-size request every poll
// interval. Each name is one store lookup on the server, so 50 such
// processes with 50 idle types took Conductor 3.21.14's whole CPU (25,000
// lookups a second). Quiet types are now looked at in turn, at most
// coldChecksPerInterval per interval, and a task for one of them is still
// picked up within the cold period; once it has had a task, its queue is
// looked at every interval again, until it has had none for a minute.
func TestProcessWithManyIdleTypesLooksAtFewQueuesPerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(0)) // idle workers watch, as on 3.21
		const types = 50
		startIdle(t, b, "idle%02d", types, 0)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		const window = 10 * time.Second
		before, before17 := b.f.sizeLookups(""), b.f.sizeLookups("idle17")
		time.Sleep(window)
		synctest.Wait()
		intervals := int(window / pollIntervalDefault)
		got := b.f.sizeLookups("") - before
		// A tenth of them per interval (5), and a little slack.
		if most := (types/10 + 1) * intervals; got > most {
			t.Fatalf("%d queue lookups in %v for %d idle types (%.1f per %v interval), want at most %d per interval",
				got, window, types, float64(got)/float64(intervals), pollIntervalDefault, types/10)
		}
		if n := b.f.sizeLookups("idle17") - before17; n < int(window/time.Second) {
			t.Fatalf("an idle type was looked at %d times in %v, want at least once a second", n, window)
		}

		at := time.Now()
		b.f.push("", makeTasks("idle17", "first", 1)...)
		waitFor(t, 5*time.Minute, "the quiet type's task", func() bool { return b.f.updatedCount() == 1 })
		if d, most := time.Since(at), coldPeriod(pollIntervalDefault, types)+2*pollIntervalDefault; d > most {
			t.Fatalf("a task for a quiet type among %d waited %v, want at most %v", types, d, most)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		at = time.Now()
		b.f.push("", makeTasks("idle17", "second", 1)...)
		waitFor(t, 5*time.Minute, "the second task", func() bool { return b.f.updatedCount() == 2 })
		if d := time.Since(at); d > 2*pollIntervalDefault {
			t.Fatalf("a type that had a task a second ago waited %v for its next one, want at most %v (its poll interval)", d, 2*pollIntervalDefault)
		}

		// A minute after its last task the type is cold again, although its
		// worker has been waiting in the watcher all along.
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		before17 = b.f.sizeLookups("idle17")
		time.Sleep(window)
		synctest.Wait()
		// Every 10 intervals, as the other 49, not every interval.
		if n, most := b.f.sizeLookups("idle17")-before17, intervals/10+2; n > most {
			t.Fatalf("a type looked at %d times in %v, two minutes after its last task, want at most %d", n, window, most)
		}
	})
}

// The cold rate changes nothing for a process with a few task types: each
// quiet queue is still looked at every poll interval.
func TestFewIdleTypesAreStillLookedAtEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(0))
		const types = 5
		startIdle(t, b, "few%d", types, 0)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		at := time.Now()
		b.f.push("", makeTasks("few3", "x", 1)...)
		waitFor(t, 5*time.Minute, "pickup", func() bool { return b.f.updatedCount() == 1 })
		if d := time.Since(at); d > 2*pollIntervalDefault {
			t.Fatalf("a task for one of %d idle types waited %v, want at most %v", types, d, 2*pollIntervalDefault)
		}
	})
}

func TestColdPeriod(t *testing.T) {
	const ms = time.Millisecond
	for _, c := range []struct {
		interval time.Duration
		quiet    int
		want     time.Duration
	}{
		{100 * ms, 0, 100 * ms},
		{100 * ms, 5, 100 * ms},
		{100 * ms, 6, 200 * ms},
		{100 * ms, 20, 400 * ms},
		{100 * ms, 50, time.Second},
		{100 * ms, 400, time.Second},
		{2 * time.Second, 400, 2 * time.Second},
		{10 * ms, 50, 100 * ms},
	} {
		if got := coldPeriod(c.interval, c.quiet); got != c.want {
			t.Errorf("coldPeriod(%v, %d) = %v, want %v", c.interval, c.quiet, got, c.want)
		}
	}
}

// Issue 23 point 3, the first fleet run with the cold rate: cold queues kept
// the phases their workers started in, so a process with 50 idle types
// started one after another sent a queue-size request nearly every poll
// interval (each naming a tenth of them) instead of one per cold period
// naming all of them. Every request costs the server more than the lookups
// it names.
func TestColdQueuesShareOneRequestPerColdPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithMaxHeldPolls(0))
		const types = 50
		startIdle(t, b, "idle%02d", types, 7*time.Millisecond) // each its own phase
		time.Sleep(5 * time.Second)
		synctest.Wait()
		const window = 10 * time.Second
		before := b.f.sizeRequests()
		time.Sleep(window)
		synctest.Wait()
		period := coldPeriod(pollIntervalDefault, types)
		if got, most := b.f.sizeRequests()-before, int(window/period)+2; got > most {
			t.Fatalf("%d queue-size requests in %v for %d cold types, want at most %d (one per %v)", got, window, types, most, period)
		}
	})
}

// startIdle starts n echo workers named by format (with their index), gap
// apart.
func startIdle(t *testing.T, b *bundle, format string, n int, gap time.Duration) {
	t.Helper()
	for i := range n {
		if err := b.r.Start(fmt.Sprintf(format, i), echo); err != nil {
			t.Fatal(err)
		}
		time.Sleep(gap)
	}
}
