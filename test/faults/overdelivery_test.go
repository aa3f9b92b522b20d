package faults

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// Scenario 7, first half: a server that hands out up to 6 tasks more than a
// poll asked for (as Conductor 3.21 with a Postgres queue has been seen to
// do). Nothing may crash and every task handed out must run and be reported,
// exactly once; the slots count may go over the batch size for a while but
// must come back to zero (settle).
func TestOverDelivery(t *testing.T) {
	skipShort(t)
	t.Parallel() // own dev server and runner; the suite's wall time is then about its longest scenario
	const tasks, batch, extra = 600, 2, 6
	e := newEnv(t, "overdelivery")
	e.define("greedy", nil) // response timeout 3600 s: an unreported task would hang the test
	e.srv.SetFaults(conductortest.Faults{"poll": {ExtraTasks: extra}})
	var running, peak atomic.Int64
	r := e.runner(e.client(nil))
	err := r.Start("greedy", e.double(func(context.Context, *model.Task) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
	}), worker.BatchSize(batch))
	if err != nil {
		t.Fatal(err)
	}
	// Bursts with pauses, so that slots go back to polling (and meet the
	// over-delivering poll) instead of chaining through update-v2.
	ids := e.trickle("greedy", 0, tasks, 3*(batch+extra), 100*time.Millisecond)
	e.wait(ids, 3*time.Minute)
	e.settle(r)
	rep := e.audit(ids)
	st := e.srv.Stats()
	t.Logf("scenario 7 (poll hands out up to %d extra tasks, %d tasks, batch %d): %s; over-delivering polls %d, tasks handed out %d, most handlers running at once %d",
		extra, tasks, batch, rep, st.OverDeliveredPolls, st.TasksHandedOut, peak.Load())
	if rep.Completed != tasks || rep.Duplicates != 0 || rep.Redelivered != 0 || rep.ExtraUpdates != 0 {
		t.Errorf("want every task run and reported exactly once: %s", rep)
	}
	if st.OverDeliveredPolls == 0 || peak.Load() <= batch {
		t.Errorf("the server never over-delivered (%d polls) or the extra tasks did not run (at most %d at once)", st.OverDeliveredPolls, peak.Load())
	}
}
