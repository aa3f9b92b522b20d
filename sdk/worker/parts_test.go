package worker

// The documented behaviours of the three parts of a worker, each part built
// from its deps struct alone (no runner): the reporter delivers and says how
// delivery ended, the executor turns a handler's outcome into a result and
// keeps a long task's lease, the poller asks for what its slots can take and
// backs off when the server fails.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

func partState(taskType string, batch int) *workerState {
	return newWorkerState(workerKey{taskType: taskType}, quietLogger(), workerConfig{batchSize: batch, pollInterval: 100 * time.Millisecond}, nil)
}

// newPartReporter builds a reporter from its deps, over f.
func newPartReporter(f *fakeAPI, w *workerState, v2 bool, hooks Hooks) (*reporter, *countingRecorder) {
	rec := newCountingRecorder()
	return newReporter(reporterDeps{
		api: f, v2: &updateV2{wanted: v2}, clock: systemClock{}, rec: rec, hooks: hooks,
		workerID: "w", polling: context.Background(),
	}, w), rec
}

func resultFor(t model.Task) *model.TaskResult {
	return &model.TaskResult{TaskId: t.TaskId, WorkflowInstanceId: t.WorkflowInstanceId, Status: model.CompletedTask, WorkerId: "w"}
}

// The reporter retries a result the server failed to take (503) until it
// is accepted, and says delivery ended well.
func TestReporterRetriesUntilTheServerTakesTheResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.updErr = func(n int, _ *model.TaskResult) error {
			if n < 3 {
				return statusErr(503)
			}
			return nil
		}
		w := partState("r", 1)
		rp, rec := newPartReporter(f, w, false, Hooks{})
		task := makeTasks("r", "r", 1)[0]
		end := rp.deliver(context.Background(), resultFor(task))
		if end.gaveUp != nil || end.next != nil {
			t.Fatalf("delivery ended %+v, want taken", end)
		}
		if got := len(f.resultsOf(task.TaskId)); got != 1 || f.attempts[task.TaskId] != 3 {
			t.Fatalf("%d results after %d attempts, want 1 after 3", got, f.attempts[task.TaskId])
		}
		if rec.gaveUp.Load() != 0 || w.status().UpdateGiveUps != 0 {
			t.Fatal("a delivered result was counted as given up")
		}
	})
}

// A result the server rejects for good (404: the task is gone) is given up
// at once, and deliver returns why instead of calling anyone back; it is
// still logged, counted and passed to the hook.
func TestReporterGivesUpARejectedResultAndSaysWhy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.updErr = func(int, *model.TaskResult) error { return statusErr(404) }
		var hooked []error
		w := partState("r", 1)
		rp, rec := newPartReporter(f, w, false, Hooks{OnUpdateGaveUp: func(_ *model.TaskResult, err error) { hooked = append(hooked, err) }})
		task := makeTasks("r", "g", 1)[0]
		end := rp.deliver(context.Background(), resultFor(task))
		if end.gaveUp == nil || end.next != nil {
			t.Fatalf("delivery ended %+v, want given up", end)
		}
		if f.attempts[task.TaskId] != 1 {
			t.Fatalf("%d attempts, want 1: a 404 cannot succeed later", f.attempts[task.TaskId])
		}
		if len(hooked) != 1 || hooked[0] != end.gaveUp || rec.gaveUp.Load() != 1 || w.status().UpdateGiveUps != 1 {
			t.Fatalf("hook %v, recorder %d, status %d: want the same one give-up everywhere", hooked, rec.gaveUp.Load(), w.status().UpdateGiveUps)
		}
	})
}

// At the shutdown deadline a result still being retried is given up with
// ErrShutdown.
func TestReporterGivesUpAtTheShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.updErr = func(int, *model.TaskResult) error { return statusErr(503) }
		rp, _ := newPartReporter(f, partState("r", 1), false, Hooks{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		end := rp.deliver(ctx, resultFor(makeTasks("r", "s", 1)[0]))
		if !errors.Is(end.gaveUp, ErrShutdown) {
			t.Fatalf("delivery ended %+v, want given up with ErrShutdown", end)
		}
	})
}

// With update-v2 and a backlog, the reporter hands back the next task the
// server gave with the result; once the queue ran dry, the backlog is gone
// and the next result is a plain update.
func TestReporterHandsBackTheNextTaskThroughUpdateV2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.v2 = true
		f.push("", makeTasks("v", "v", 2)...)
		first := f.take("v", 1)[0]
		w := partState("v", 1)
		w.fullPoll.Store(1) // the poller's last poll filled its batch
		rp, _ := newPartReporter(f, w, true, Hooks{})
		end := rp.deliver(context.Background(), resultFor(first))
		if end.gaveUp != nil || end.next == nil || end.next.TaskId != "v-1" {
			t.Fatalf("delivery ended %+v, want the next task v-1", end)
		}
		end = rp.deliver(context.Background(), resultFor(*end.next))
		if end.gaveUp != nil || end.next != nil {
			t.Fatalf("delivery ended %+v, want taken with no next task", end)
		}
		if w.backlog() {
			t.Fatal("update-v2 found the queue empty and the backlog stayed")
		}
		calls := f.v2calls
		rp.deliver(context.Background(), resultFor(first))
		if f.v2calls != calls {
			t.Fatal("update-v2 used without a backlog")
		}
	})
}

// newPartExecutor builds an executor from its deps, over f, for h.
func newPartExecutor(f *fakeAPI, w *workerState, h HandlerFunc) (*executor, *countingRecorder) {
	rec := newCountingRecorder()
	return &executor{w: w, executorDeps: executorDeps{
		handler: h, lease: f, payload: payloadsOf(f), clock: systemClock{}, rec: rec, log: quietLogger(), workerID: "w",
	}}, rec
}

// A handler that panics gives a FAILED result with the panic value; the
// executor fills in the job and counts the failure.
func TestExecutorTurnsAPanicIntoAFailedResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := partState("p", 1)
		e, rec := newPartExecutor(newFake(), w, func(context.Context, *model.Task) (interface{}, error) { panic("boom") })
		task := makeTasks("p", "p", 1)[0]
		j := &job{task: &task}
		res := e.execute(context.Background(), j)
		if res != j.res || res.Status != model.FailedTask || res.TaskId != "p-0" {
			t.Fatalf("result %+v (job's %p, returned %p), want a FAILED result in the job", res, j.res, res)
		}
		if w.status().Failures != 1 || rec.kind(ErrorKindPanic) != 1 {
			t.Fatalf("failures %d, panic kind %d; want 1 and 1", w.status().Failures, rec.kind(ErrorKindPanic))
		}
	})
}

// While a handler runs past half its task's response timeout, the executor
// extends the task's lease, and stops when the handler returns.
func TestExecutorExtendsTheLeaseOfALongTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		e, rec := newPartExecutor(f, partState("l", 1), func(context.Context, *model.Task) (interface{}, error) {
			time.Sleep(25 * time.Second)
			return map[string]interface{}{"ok": true}, nil
		})
		task := makeTasks("l", "l", 1)[0]
		task.ResponseTimeoutSeconds = 10
		res := e.execute(context.Background(), &job{task: &task})
		if res.Status != model.CompletedTask {
			t.Fatalf("status %s", res.Status)
		}
		f.mu.Lock()
		leases := f.leases[task.TaskId]
		f.mu.Unlock()
		// Every 5 s (half the response timeout) during 25 s: 4 or 5.
		if leases < 4 || leases > 5 || rec.leases.Load() != int64(leases) {
			t.Fatalf("%d lease extensions (recorded %d), want one every 5 s of the 25 s run", leases, rec.leases.Load())
		}
		time.Sleep(time.Minute)
		f.mu.Lock()
		after := f.leases[task.TaskId]
		f.mu.Unlock()
		if after != leases {
			t.Fatalf("lease extended %d more times after the handler returned", after-leases)
		}
	})
}

// newPartPoller builds a poller from its deps, over f, and collects what it
// dispatches.
type partPoller struct {
	p   *poller
	mu  sync.Mutex
	got []model.Task
}

func newPartPoller(f *fakeAPI, w *workerState, clock clockSource) *partPoller {
	pp := &partPoller{}
	work := context.Background()
	pp.p = newPoller(pollerDeps{
		api: f, sched: newScheduler(clock, 0), watch: newQueueWatcher(f, clock, quietLogger()),
		clock: clock, rec: newCountingRecorder(), workerID: "w", work: work,
		dispatch: func(tasks []model.Task, _ []*taskTrace) {
			pp.mu.Lock()
			pp.got = append(pp.got, tasks...)
			pp.mu.Unlock()
			w.stats.started(len(tasks)) // the slots stay busy: nothing finishes
		},
		handBack: func([]model.Task) {},
	}, w)
	return pp
}

// The poller asks for as many tasks as its slots can take, and no more
// until slots free up.
func TestPollerAsksForItsFreeSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.push("", makeTasks("q", "q", 10)...)
		w := partState("q", 4)
		pp := newPartPoller(f, w, systemClock{})
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { pp.p.run(ctx); close(done) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		polls := f.pollsCopy()
		if len(polls) != 1 || polls[0].count != 4 {
			t.Fatalf("polls %+v, want one asking for the 4 free slots", polls)
		}
		if len(pp.got) != 4 || w.status().State != "waiting_for_slot" {
			t.Fatalf("dispatched %d, state %q; want 4 and waiting for a slot", len(pp.got), w.status().State)
		}
		stop()
		<-done
	})
}

// Failed polls back off: the gaps between them grow, up to the 5 s cap,
// and the worker's status shows the error.
func TestPollerBacksOffWhileTheServerFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		var mu sync.Mutex
		var at []time.Time
		f.pollErr = func(int, pollRequest) error {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			return statusErr(503)
		}
		// PollTimeout(0): between polls the worker only waits its interval
		// (no queue watcher runs without a runner).
		w := newWorkerState(workerKey{taskType: "e"}, quietLogger(), workerConfig{batchSize: 1, pollInterval: 100 * time.Millisecond, pollTimeoutS: true}, nil)
		pp := newPartPoller(f, w, systemClock{})
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { pp.p.run(ctx); close(done) }()
		time.Sleep(2 * time.Minute)
		stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if len(at) < 10 {
			t.Fatalf("%d polls in 2 minutes", len(at))
		}
		first, last := at[1].Sub(at[0]), at[len(at)-1].Sub(at[len(at)-2])
		// Each gap is the backoff (jitter takes up to half of it off) plus
		// the interval (up to a fifth off): at the cap, 2.5 s .. 5.1 s.
		if first > 200*time.Millisecond || last < 2500*time.Millisecond || last > 5100*time.Millisecond {
			t.Fatalf("gaps: first %v, last %v; want short, then near the 5 s cap", first, last)
		}
		if s := w.status(); s.PollErrors != uint64(len(at)) || s.LastError == "" || s.Ready {
			t.Fatalf("status %+v after %d failed polls", s, len(at))
		}
	})
}
