package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestStatusIsOneConsistentView: Workers reads a worker's counters as one
// view, so the tasks a worker has finished (Tasks - SlotsInUse) never go
// backwards between two reads, and never exceed the results the server
// has received. Read one by one, a read between a dispatch's two counter
// updates saw the new slots without the new tasks.
func TestStatusIsOneConsistentView(t *testing.T) {
	b := setup(t)
	const n = 1000
	b.f.push("", makeTasks("c", "t", n)...)
	if err := b.r.Start("c", echo, BatchSize(7), PollInterval(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	errs := make(chan string, 1)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for ctx.Err() == nil {
				s := b.r.Workers()[0]
				finished := int64(s.Tasks) - int64(s.SlotsInUse)
				if finished < last || finished > int64(b.f.updatedCount()) || s.PollErrors > s.Polls {
					select {
					case errs <- "torn status: " + formatStatus(s, last, b.f.updatedCount()):
					default:
					}
					return
				}
				last = finished
			}
		}()
	}
	waitFor(t, time.Minute, "all tasks reported", func() bool { return b.f.updatedCount() == n })
	stop()
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
}

func formatStatus(s WorkerStatus, lastFinished int64, updated int) string {
	return fmt.Sprintf("tasks %d, slots in use %d (finished %d, before %d; results received %d), polls %d, poll errors %d",
		s.Tasks, s.SlotsInUse, int64(s.Tasks)-int64(s.SlotsInUse), lastFinished, updated, s.Polls, s.PollErrors)
}

// TestBacklogOutlivesAStaleRanDry: the backlog has one writer per fact. The
// reporter's "the queue ran dry" names the full poll it saw, so it cannot
// undo a later full poll of the poller (with one flag written by both, a
// reporter that found the queue empty cleared the backlog a newer poll had
// just set, and the slots stopped taking tasks through update-v2).
func TestBacklogOutlivesAStaleRanDry(t *testing.T) {
	w := newWorkerState(workerKey{taskType: "b"}, quietLogger(), workerConfig{batchSize: 2, pollInterval: time.Second}, nil)
	if w.backlog() {
		t.Fatal("a new worker has a backlog")
	}
	w.fullPoll.Store(1) // the poller: poll 1 filled its batch
	seen := w.backlogOf()
	if seen != 1 {
		t.Fatalf("backlog of poll %d, want 1", seen)
	}
	w.fullPoll.Store(2) // the poller: poll 2 filled its batch too
	w.queueRanDry(seen) // the reporter: update-v2 found the queue empty after poll 1
	if !w.backlog() {
		t.Fatal("a dry queue seen before poll 2 cleared poll 2's backlog")
	}
	w.queueRanDry(w.backlogOf())
	if w.backlog() {
		t.Fatal("the queue ran dry after the last full poll, and the backlog stayed")
	}
	w.fullPoll.Store(0) // a poll that did not fill its batch
	if w.backlog() {
		t.Fatal("backlog after a poll that came back short")
	}
}
