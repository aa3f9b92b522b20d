package worker

import (
	"testing"
	"testing/synctest"
	"time"
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
