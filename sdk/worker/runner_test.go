package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/baton-go/baton/sdk/model"
)

type bundle struct {
	f    *fakeAPI
	r    *TaskRunner
	rec  *countingRecorder
	logs *logtest.Hook
}

func setup(t *testing.T, opts ...Option) *bundle {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	b := &bundle{f: newFake(), rec: newCountingRecorder(), logs: hook}
	all := append([]Option{WithLogger(logger), WithMetrics(b.rec), WithWorkerID("test-worker")}, opts...)
	b.r = newRunner(b.f, all...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = b.r.Shutdown(ctx)
		b.r.WaitWorkers()
	})
	return b
}

func (b *bundle) linesAt(level logrus.Level, contains string) int {
	n := 0
	for _, e := range b.logs.AllEntries() {
		if e.Level == level && strings.Contains(e.Message, contains) {
			n++
		}
	}
	return n
}

func echo(_ context.Context, t *model.Task) (interface{}, error) {
	return map[string]interface{}{"echo": t.InputData["i"]}, nil
}

func TestEveryTaskRunsOnceAndIsReported(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		for _, batch := range []int{1, 10, 100} {
			t.Run(fmt.Sprintf("v2=%v/batch=%d", v2, batch), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					b := setup(t, WithUpdateV2(v2))
					b.f.v2 = v2
					const n = 1000
					var runs sync.Map
					h := func(ctx context.Context, task *model.Task) (interface{}, error) {
						if _, dup := runs.LoadOrStore(task.TaskId, true); dup {
							t.Errorf("task %s ran twice", task.TaskId)
						}
						return echo(ctx, task)
					}
					if err := b.r.Start("echo", h, BatchSize(batch)); err != nil {
						t.Fatal(err)
					}
					b.f.push("", makeTasks("echo", "t", n)...)
					waitFor(t, 5*time.Minute, "all results", func() bool { return b.f.updatedCount() == n })
					for i := 0; i < n; i++ {
						rs := b.f.resultsOf(fmt.Sprintf("t-%d", i))
						if len(rs) != 1 {
							t.Fatalf("task t-%d: %d updates, want 1", i, len(rs))
						}
						if rs[0].Status != model.CompletedTask || rs[0].OutputData["echo"] != float64(i) || rs[0].WorkerId != "test-worker" {
							t.Fatalf("task t-%d: result %+v", i, rs[0])
						}
					}
					for _, p := range b.f.pollsCopy() {
						if p.count > batch || p.count < 1 {
							t.Fatalf("poll asked for %d tasks with batch size %d", p.count, batch)
						}
					}
					if v2 && b.f.pollCount() >= n {
						t.Errorf("with update-v2, %d polls for %d tasks: next tasks were not taken from updates", b.f.pollCount(), n)
					}
					if got := b.rec.executes.Load(); got != n {
						t.Errorf("recorder saw %d executions, want %d", got, n)
					}
				})
			})
		}
	}
}

func TestPollAsksOnlyForFreeSlotsAndBlocksWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		release := make(chan struct{})
		var running atomic.Int32
		h := func(ctx context.Context, _ *model.Task) (interface{}, error) {
			running.Add(1)
			<-release
			return nil, nil
		}
		if err := b.r.Start("slow", h, BatchSize(3)); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("slow", "a", 2)...)
		waitFor(t, 5*time.Minute, "2 running", func() bool { return running.Load() == 2 })
		synctest.Wait()
		// One slot free: the waiting poll asks for exactly one.
		ps := b.f.pollsCopy()
		if last := ps[len(ps)-1]; last.count != 1 {
			t.Fatalf("poll with 1 free slot asked for %d", last.count)
		}
		b.f.push("", makeTasks("slow", "b", 5)...)
		waitFor(t, 5*time.Minute, "3 running", func() bool { return running.Load() == 3 })
		synctest.Wait()
		before := b.f.pollCount()
		time.Sleep(10 * time.Minute) // fake time: a busy loop would poll here
		synctest.Wait()
		if got := b.f.pollCount(); got != before {
			t.Fatalf("%d polls while every slot was busy, want 0", got-before)
		}
		if st := b.r.Workers()[0].State; st != "waiting_for_slot" {
			t.Fatalf("state %q, want waiting_for_slot", st)
		}
		close(release)
		waitFor(t, 5*time.Minute, "all 7 reported", func() bool { return b.f.updatedCount() == 7 })
	})
}

func TestMoreTasksThanAskedAreAllRunAndReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.f.extra = 4 // the server hands out 4 more than asked
		if err := b.r.Start("greedy", echo, BatchSize(1)); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("greedy", "g", 23)...)
		waitFor(t, 5*time.Minute, "all reported", func() bool { return b.f.updatedCount() == 23 })
		for i := 0; i < 23; i++ {
			if rs := b.f.resultsOf(fmt.Sprintf("g-%d", i)); len(rs) != 1 || rs[0].Status != model.CompletedTask {
				t.Fatalf("g-%d: %+v", i, rs)
			}
		}
	})
}

func TestHandlerOutcomes(t *testing.T) {
	type weird struct{ C chan int }
	tests := []struct {
		name       string
		h          HandlerFunc
		wantStatus model.TaskResultStatus
		wantReason []string
		wantKind   ErrorKind
		wantCB     int64
	}{
		{
			name:       "panic",
			h:          func(context.Context, *model.Task) (interface{}, error) { panic("boom at step 3") },
			wantStatus: model.FailedTask,
			wantReason: []string{"handler panicked: boom at step 3", "TestHandlerOutcomes"},
			wantKind:   ErrorKindPanic,
		},
		{
			name: "nil map panic",
			h: func(context.Context, *model.Task) (interface{}, error) {
				var m map[string]int
				//lint:ignore SA5000 the handler must panic
				m["x"] = 1
				return nil, nil
			},
			wantStatus: model.FailedTask,
			wantReason: []string{"assignment to entry in nil map"},
			wantKind:   ErrorKindPanic,
		},
		{
			name:       "unserialisable",
			h:          func(context.Context, *model.Task) (interface{}, error) { return weird{C: make(chan int)}, nil },
			wantStatus: model.FailedWithTerminalErrorTask,
			wantReason: []string{`field "C"`, "cannot be encoded"},
			wantKind:   ErrorKindOutput,
		},
		{
			name:       "error",
			h:          func(context.Context, *model.Task) (interface{}, error) { return nil, errors.New("db down") },
			wantStatus: model.FailedTask,
			wantReason: []string{"db down"},
			wantKind:   ErrorKindHandler,
		},
		{
			name: "wrapped terminal",
			h: func(context.Context, *model.Task) (interface{}, error) {
				return nil, fmt.Errorf("validating: %w", Terminal(errors.New("bad account")))
			},
			wantStatus: model.FailedWithTerminalErrorTask,
			wantReason: []string{"validating: bad account"},
			wantKind:   ErrorKindTerminal,
		},
		{
			name: "in progress",
			h: func(_ context.Context, t *model.Task) (interface{}, error) {
				r := model.NewTaskResult(t)
				r.Status = model.InProgressTask
				r.CallbackAfterSeconds = 7
				return r, nil
			},
			wantStatus: model.InProgressTask,
			wantCB:     7,
		},
		{
			name:       "value",
			h:          func(context.Context, *model.Task) (interface{}, error) { return struct{ A int }{A: 1}, nil },
			wantStatus: model.CompletedTask,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				if err := b.r.Start("x", tt.h); err != nil {
					t.Fatal(err)
				}
				b.f.push("", makeTasks("x", "o", 2)...)
				waitFor(t, 5*time.Minute, "results", func() bool { return b.f.updatedCount() == 2 })
				for _, id := range []string{"o-0", "o-1"} {
					rs := b.f.resultsOf(id)
					if len(rs) != 1 || rs[0].Status != tt.wantStatus || rs[0].CallbackAfterSeconds != tt.wantCB {
						t.Fatalf("%s: got %+v, want status %s", id, rs, tt.wantStatus)
					}
					for _, want := range tt.wantReason {
						if !strings.Contains(rs[0].ReasonForIncompletion, want) {
							t.Errorf("%s: reason %q does not contain %q", id, rs[0].ReasonForIncompletion, want)
						}
					}
					if len(rs[0].ReasonForIncompletion) > model.MaxReasonLength {
						t.Errorf("reason is %d bytes", len(rs[0].ReasonForIncompletion))
					}
				}
				if tt.wantKind != "" {
					if got := b.rec.kind(tt.wantKind); got != 2 {
						t.Errorf("recorder kind %s = %d, want 2", tt.wantKind, got)
					}
					if got := b.r.Workers()[0].Failures; tt.wantStatus != model.InProgressTask && got != 2 {
						t.Errorf("Failures = %d, want 2", got)
					}
				}
			})
		})
	}
}

func TestPanicStackIsTrimmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		if err := b.r.Start("p", func(context.Context, *model.Task) (interface{}, error) { panic(errors.New("kaput")) }); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("p", "p", 1)...)
		waitFor(t, 5*time.Minute, "result", func() bool { return b.f.updatedCount() == 1 })
		reason := b.f.resultsOf("p-0")[0].ReasonForIncompletion
		for _, bad := range []string{"runtime.gopanic", "runtime/debug", "callHandler", "slotLoop", "runJobs", "goroutine "} {
			if strings.Contains(reason, bad) {
				t.Errorf("reason contains %q:\n%s", bad, reason)
			}
		}
		if !strings.Contains(reason, "runner_test.go:") {
			t.Errorf("reason has no frame of the handler:\n%s", reason)
		}
		if b.linesAt(logrus.ErrorLevel, "panicked: kaput") != 1 {
			t.Errorf("want one error line with the panic value")
		}
	})
}

func TestUpdatesRetryUntilAcceptedAndHoldTheSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var failed []int
		var mu sync.Mutex
		hooks := Hooks{OnUpdateFailed: func(_ *model.TaskResult, _ error, attempt int) {
			mu.Lock()
			failed = append(failed, attempt)
			mu.Unlock()
		}}
		b := setup(t, WithHooks(hooks))
		const failures = 12 // about 35 s of backoff: far beyond three tries
		b.f.updErr = func(n int, _ *model.TaskResult) error {
			if n <= failures {
				return statusErr(503)
			}
			return nil
		}
		if err := b.r.Start("u", echo, BatchSize(1)); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("u", "u", 2)...)
		waitFor(t, 5*time.Minute, "first result", func() bool { return len(b.f.resultsOf("u-0")) == 1 })
		// The slot was held while u-0 could not be reported, so u-1 was not
		// polled before: it is still queued or only just taken.
		waitFor(t, 5*time.Minute, "second result", func() bool { return len(b.f.resultsOf("u-1")) == 1 })
		mu.Lock()
		defer mu.Unlock()
		if len(failed) != 2*failures {
			t.Fatalf("OnUpdateFailed called %d times, want %d", len(failed), 2*failures)
		}
		if failed[0] != 1 || failed[failures-1] != failures {
			t.Fatalf("attempts %v", failed)
		}
		if b.rec.gaveUp.Load() != 0 {
			t.Fatal("gave up although the server came back")
		}
		if n := b.linesAt(logrus.WarnLevel, "result updates failing"); n < 1 || n > 4 {
			t.Fatalf("%d warn lines about failing updates, want a few", n)
		}
		if n := b.linesAt(logrus.InfoLevel, "recovered"); n < 1 {
			t.Fatal("no line saying updates recovered")
		}
	})
}

func TestSlotIsHeldDuringUpdateOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		var down atomic.Bool
		down.Store(true)
		b.f.updErr = func(int, *model.TaskResult) error {
			if down.Load() {
				return statusErr(502)
			}
			return nil
		}
		if err := b.r.Start("h", echo, BatchSize(1)); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("h", "h", 3)...)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if q := b.f.queued("h"); q != 2 {
			t.Fatalf("%d tasks left in the queue during the outage, want 2 (slot must stay busy)", q)
		}
		down.Store(false)
		waitFor(t, 5*time.Minute, "all reported", func() bool { return b.f.updatedCount() == 3 })
	})
}

func TestRejectedResultGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var gave []error
		var mu sync.Mutex
		b := setup(t, WithHooks(Hooks{OnUpdateGaveUp: func(_ *model.TaskResult, err error) {
			mu.Lock()
			gave = append(gave, err)
			mu.Unlock()
		}}))
		b.f.updErr = func(int, *model.TaskResult) error { return statusErr(404) }
		if err := b.r.Start("gone", echo); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("gone", "g", 3)...)
		waitFor(t, 5*time.Minute, "3 give-ups", func() bool { return b.rec.gaveUp.Load() == 3 })
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(gave) != 3 {
			t.Fatalf("hook called %d times", len(gave))
		}
		var f *apiFailure
		if !errors.As(gave[0], &f) || f.status != 404 {
			t.Fatalf("hook error %v does not carry the 404", gave[0])
		}
		if b.rec.updates.Load() != 3 {
			t.Fatalf("%d update attempts, want 3 (a 404 is final)", b.rec.updates.Load())
		}
		if n := b.linesAt(logrus.ErrorLevel, "giving up"); n != 3 {
			t.Fatalf("%d error lines, want 3", n)
		}
		if got := b.r.Workers()[0].UpdateGiveUps; got != 3 {
			t.Fatalf("UpdateGiveUps = %d", got)
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		var times []time.Time
		b.f.updErr = func(n int, _ *model.TaskResult) error {
			times = append(times, time.Now())
			if n == 1 {
				return &apiFailure{err: errors.New("429"), status: 429, retryable: true, retryAfter: 42 * time.Second, kind: ErrorKindThrottled}
			}
			return nil
		}
		if err := b.r.Start("ra", echo); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("ra", "r", 1)...)
		waitFor(t, 5*time.Minute, "result", func() bool { return b.f.updatedCount() == 1 })
		if d := times[1].Sub(times[0]); d < 42*time.Second {
			t.Fatalf("retried after %v, want >= 42s", d)
		}
	})
}

func TestShutdownDrainsRunningTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		started := make(chan struct{}, 10)
		h := func(ctx context.Context, task *model.Task) (interface{}, error) {
			started <- struct{}{}
			time.Sleep(3 * time.Second)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return map[string]interface{}{"ok": true}, nil
		}
		if err := b.r.Start("d", h, BatchSize(5)); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("d", "d", 5)...)
		for i := 0; i < 5; i++ {
			<-started
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.r.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if n := b.f.updatedCount(); n != 5 {
			t.Fatalf("%d results posted before Shutdown returned, want 5", n)
		}
		if err := b.r.Shutdown(ctx); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
		if err := b.r.Start("d2", echo); !errors.Is(err, ErrShutdown) {
			t.Fatalf("Start after Shutdown: %v", err)
		}
		if err := b.r.StartWorker("d3", func(*model.Task) (interface{}, error) { return nil, nil }, 1, time.Second); !errors.Is(err, ErrShutdown) {
			t.Fatalf("StartWorker after Shutdown: %v", err)
		}
	})
}

func TestShutdownDeadlineCancelsHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var gaveUp atomic.Int32
		b := setup(t, WithHooks(Hooks{OnUpdateGaveUp: func(*model.TaskResult, error) { gaveUp.Add(1) }}))
		started := make(chan struct{}, 2)
		causes := make(chan error, 2)
		h := func(ctx context.Context, task *model.Task) (interface{}, error) {
			started <- struct{}{}
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, ctx.Err()
		}
		if err := b.r.Start("stuck", h, BatchSize(2)); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("stuck", "s", 2)...)
		<-started
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		t0 := time.Now()
		err := b.r.Shutdown(ctx)
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("Shutdown took %v, deadline was 2s", d)
		}
		if !errors.Is(err, ErrShutdown) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown error %v, want ErrShutdown and DeadlineExceeded", err)
		}
		if !strings.Contains(err.Error(), "s-0") || !strings.Contains(err.Error(), "s-1") {
			t.Fatalf("error %q does not name the undrained tasks", err)
		}
		b.r.WaitWorkers()
		for i := 0; i < 2; i++ {
			if c := <-causes; !errors.Is(c, ErrShutdown) {
				t.Fatalf("handler context cause %v, want ErrShutdown", c)
			}
		}
		if gaveUp.Load() != 2 || b.rec.gaveUp.Load() != 2 {
			t.Fatalf("give-ups hook=%d recorder=%d, want 2", gaveUp.Load(), b.rec.gaveUp.Load())
		}
	})
}

func TestWaitWorkersWithoutWorkersReturns(t *testing.T) {
	r := newRunner(newFake())
	r.WaitWorkers()
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPollErrorsBackOffAndRecover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var workerErrs atomic.Int32
		b := setup(t, WithHooks(Hooks{OnWorkerError: func(string, error) { workerErrs.Add(1) }}), WithPollTimeout(time.Second))
		var times []time.Time
		var mu sync.Mutex
		const failing = 10
		b.f.pollErr = func(n int, _ pollRequest) error {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			if n <= failing {
				return statusErr(503)
			}
			return nil
		}
		if err := b.r.Start("pe", echo); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Minute, "recovery", func() bool { return b.f.pollCount() > failing+1 })
		b.f.push("", makeTasks("pe", "p", 1)...)
		waitFor(t, 5*time.Minute, "task done", func() bool { return b.f.updatedCount() == 1 })
		mu.Lock()
		defer mu.Unlock()
		for i := 1; i <= failing; i++ {
			gap := times[i].Sub(times[i-1])
			nominal := min(pollBackoffMin<<(i-1), pollBackoffMax)
			if gap < nominal/2 || gap > nominal {
				t.Fatalf("wait after failure %d: %v, want within [%v, %v]", i, gap, nominal/2, nominal)
			}
		}
		if workerErrs.Load() != failing {
			t.Fatalf("OnWorkerError called %d times, want %d", workerErrs.Load(), failing)
		}
		w := b.r.Workers()[0]
		if w.PollErrors != failing || !strings.Contains(w.LastError, "503") {
			t.Fatalf("status %+v", w)
		}
	})
}

func TestPollErrorLogsAreRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		var down atomic.Bool
		down.Store(true)
		b.f.pollErr = func(int, pollRequest) error {
			if down.Load() {
				return statusErr(503)
			}
			return nil
		}
		if err := b.r.Start("rl", echo); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Second)
		down.Store(false)
		waitFor(t, 5*time.Minute, "recovered line", func() bool { return b.linesAt(logrus.InfoLevel, "recovered after") == 1 })
		polls := b.f.pollCount()
		warns := b.linesAt(logrus.WarnLevel, "poll failing")
		if polls < 15 {
			t.Fatalf("only %d polls in a 60 s outage", polls)
		}
		if warns < 2 || warns > 4 {
			t.Fatalf("%d warn lines for %d failed polls in 60 s, want 2..4 (first + summaries)", warns, polls)
		}
		found := false
		for _, e := range b.logs.AllEntries() {
			if strings.Contains(e.Message, "errors in the last") && strings.Contains(e.Message, "last: conductor: POST /api/tasks: 503 Service Unavailable") {
				found = true
			}
		}
		if !found {
			t.Fatal("no summary line")
		}
	})
}

func TestPauseResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithPollTimeout(time.Second))
		b.r.Pause("pr") // before start: the worker starts paused
		if err := b.r.Start("pr", echo); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("pr", "a", 3)...)
		time.Sleep(time.Minute)
		synctest.Wait()
		if b.f.pollCount() != 0 || b.r.Workers()[0].State != "paused" || !b.r.Workers()[0].Paused {
			t.Fatalf("paused worker polled %d times, status %+v", b.f.pollCount(), b.r.Workers()[0])
		}
		b.r.Resume("pr")
		waitFor(t, 5*time.Minute, "3 done", func() bool { return b.f.updatedCount() == 3 })
		b.r.Pause("pr")
		synctest.Wait()
		waitFor(t, 5*time.Minute, "paused state", func() bool { return b.r.Workers()[0].State == "paused" })
		before := b.f.pollCount()
		b.f.push("", makeTasks("pr", "b", 3)...)
		time.Sleep(time.Minute)
		synctest.Wait()
		if b.f.pollCount() != before || b.f.updatedCount() != 3 {
			t.Fatal("paused worker polled")
		}
		b.r.Resume("pr")
		waitFor(t, 5*time.Minute, "6 done", func() bool { return b.f.updatedCount() == 6 })
		if b.rec.paused.Load() < 3 {
			t.Fatalf("PausedChanged called %d times", b.rec.paused.Load())
		}
		if b.linesAt(logrus.InfoLevel, "worker: paused") != 1 || b.linesAt(logrus.InfoLevel, "worker: resumed") != 2 {
			t.Fatal("want one info line per pause and resume")
		}
	})
}

func TestSetBatchSizeAndAddingSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithPollTimeout(time.Second))
		release := make(chan struct{})
		var running, maxRunning atomic.Int32
		h := func(context.Context, *model.Task) (interface{}, error) {
			n := running.Add(1)
			for {
				m := maxRunning.Load()
				if n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			<-release
			running.Add(-1)
			return nil, nil
		}
		if err := b.r.StartWorker("bs", func(t *model.Task) (interface{}, error) { return h(context.Background(), t) }, 2, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("bs", "x", 20)...)
		waitFor(t, 5*time.Minute, "2 running", func() bool { return running.Load() == 2 })
		synctest.Wait()
		if err := b.r.SetBatchSize("bs", 5); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Minute, "5 running", func() bool { return running.Load() == 5 })
		// StartWorker again for the same type adds slots.
		if err := b.r.StartWorker("bs", func(*model.Task) (interface{}, error) { return nil, nil }, 3, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Minute, "8 running", func() bool { return running.Load() == 8 })
		synctest.Wait()
		if maxRunning.Load() != 8 || b.r.Workers()[0].BatchSize != 8 || b.r.Workers()[0].SlotsInUse != 8 {
			t.Fatalf("max running %d, status %+v", maxRunning.Load(), b.r.Workers()[0])
		}
		if err := b.r.SetBatchSize("bs", 0); err == nil || !strings.Contains(err.Error(), "batchSize must be >= 1, got 0") {
			t.Fatalf("SetBatchSize(0): %v", err)
		}
		if err := b.r.SetBatchSize("nope", 3); err == nil || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("SetBatchSize(unknown): %v", err)
		}
		if err := b.r.SetPollInterval("bs", 0); err == nil || !strings.Contains(err.Error(), "pollInterval") {
			t.Fatalf("SetPollInterval(0): %v", err)
		}
		if err := b.r.SetBatchSize("bs", 1); err != nil {
			t.Fatal(err)
		}
		close(release)
		waitFor(t, 5*time.Minute, "all done", func() bool { return b.f.updatedCount() == 20 })
		for _, p := range b.f.pollsCopy()[len(b.f.pollsCopy())-1:] {
			if p.count != 1 {
				t.Fatalf("after SetBatchSize(1) a poll asked for %d", p.count)
			}
		}
	})
}

func TestDomainsAreSeparate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		var gotEU, gotNone sync.Map
		if err := b.r.Start("dom", func(_ context.Context, t *model.Task) (interface{}, error) {
			gotEU.Store(t.TaskId, true)
			return nil, nil
		}, Domain("eu")); err != nil {
			t.Fatal(err)
		}
		if err := b.r.StartWorkerWithDomain("dom", func(t *model.Task) (interface{}, error) {
			gotNone.Store(t.TaskId, true)
			return nil, nil
		}, 1, 10*time.Millisecond, ""); err != nil {
			t.Fatal(err)
		}
		b.f.push("eu", makeTasks("dom", "eu", 5)...)
		b.f.push("", makeTasks("dom", "none", 5)...)
		waitFor(t, 5*time.Minute, "10 done", func() bool { return b.f.updatedCount() == 10 })
		gotEU.Range(func(k, _ any) bool {
			if !strings.HasPrefix(k.(string), "eu-") {
				t.Errorf("eu worker got %v", k)
			}
			return true
		})
		gotNone.Range(func(k, _ any) bool {
			if !strings.HasPrefix(k.(string), "none-") {
				t.Errorf("no-domain worker got %v", k)
			}
			return true
		})
		for _, p := range b.f.pollsCopy() {
			if p.domain != "eu" && p.domain != "" {
				t.Fatalf("poll with domain %q", p.domain)
			}
		}
		ws := b.r.Workers()
		if len(ws) != 2 || ws[0].Domain != "eu" || ws[1].Domain != "" {
			t.Fatalf("workers %+v", ws)
		}
	})
}

func TestUpdateV2(t *testing.T) {
	t.Run("fallback when unsupported", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, WithUpdateV2(true))
			b.f.v2 = false
			if err := b.r.Start("v", echo, BatchSize(4)); err != nil {
				t.Fatal(err)
			}
			b.f.push("", makeTasks("v", "v", 50)...)
			waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 50 })
			b.f.mu.Lock()
			calls := b.f.v2calls
			b.f.mu.Unlock()
			// Slots finishing at the same moment may each try once; after
			// that the runner remembers.
			if calls < 1 || calls > 4 {
				t.Fatalf("%d update-v2 calls for 50 tasks on 4 slots, want 1..4", calls)
			}
			if b.linesAt(logrus.InfoLevel, "no update-v2") != 1 {
				t.Fatal("want one info line about the fallback")
			}
			if b.rec.updateErrs.Load() != 0 {
				t.Fatal("the fallback counted as an update error")
			}
		})
	})
	t.Run("task handed back while pausing is run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, WithUpdateV2(true))
			b.f.v2 = true
			gate := make(chan struct{})
			first := true
			h := func(_ context.Context, task *model.Task) (interface{}, error) {
				if first {
					first = false
					<-gate
				}
				return nil, nil
			}
			if err := b.r.Start("vp", h, BatchSize(1)); err != nil {
				t.Fatal(err)
			}
			b.f.push("", makeTasks("vp", "p", 1)...)
			waitFor(t, 5*time.Minute, "running", func() bool { return b.f.queued("vp") == 0 })
			b.f.push("", makeTasks("vp", "q", 1)...)
			// Pause now: the slot decides at update time not to take a task.
			b.r.Pause("vp")
			close(gate)
			waitFor(t, 5*time.Minute, "first reported", func() bool { return b.f.updatedCount() == 1 })
			synctest.Wait()
			if b.f.queued("vp") != 1 {
				t.Fatal("a paused worker took a task through update-v2")
			}
			b.r.Resume("vp")
			waitFor(t, 5*time.Minute, "second reported", func() bool { return b.f.updatedCount() == 2 })
		})
	})
}

func TestLeaseExtension(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		h := func(ctx context.Context, _ *model.Task) (interface{}, error) {
			time.Sleep(3 * time.Second)
			return map[string]interface{}{"done": true}, nil
		}
		if err := b.r.Start("long", h); err != nil {
			t.Fatal(err)
		}
		ts := makeTasks("long", "l", 2)
		ts[0].ResponseTimeoutSeconds = 2
		ts[1].ResponseTimeoutSeconds = 3600
		b.f.push("", ts...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 2 })
		b.f.mu.Lock()
		l0, l1 := b.f.leases["l-0"], b.f.leases["l-1"]
		b.f.mu.Unlock()
		// Extended at 1 s and 2 s (every half response timeout); the 3 s
		// mark coincides with the handler's return and may or may not fire.
		if l0 < 2 || l0 > 3 {
			t.Fatalf("%d lease extensions for a 3 s handler with a 2 s response timeout, want 2..3", l0)
		}
		if l1 != 0 {
			t.Fatalf("%d extensions for a task far from its timeout", l1)
		}
		if int(b.rec.leases.Load()) != l0 {
			t.Fatalf("recorder counted %d extensions, server saw %d", b.rec.leases.Load(), l0)
		}
		if rs := b.f.resultsOf("l-0"); rs[0].Status != model.CompletedTask {
			t.Fatalf("result %+v", rs[0])
		}
	})
}

func TestFailedLeaseExtensionIsRetriedSoon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.f.leaseErr = func(n int) error {
			if n == 1 {
				return context.DeadlineExceeded
			}
			return nil
		}
		h := func(ctx context.Context, _ *model.Task) (interface{}, error) {
			time.Sleep(3500 * time.Millisecond)
			return nil, nil
		}
		if err := b.r.Start("lr", h); err != nil {
			t.Fatal(err)
		}
		ts := makeTasks("lr", "lr", 1)
		ts[0].ResponseTimeoutSeconds = 4 // extensions every 2 s
		start := time.Now()
		b.f.push("", ts...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 1 })
		b.f.mu.Lock()
		tries := append([]time.Time(nil), b.f.leaseTries["lr-0"]...)
		b.f.mu.Unlock()
		if len(tries) < 2 {
			t.Fatalf("%d extension attempts, want a retry after the failed one", len(tries))
		}
		// The retry comes a quarter period after the failure, well before
		// the server's 4 s response timeout, not a whole period later.
		if gap := tries[1].Sub(tries[0]); gap > time.Second {
			t.Fatalf("retry of a failed extension came %v after it (first at %v)", gap, tries[0].Sub(start))
		}
	})
}

func TestTaskDeadlineFromDefinition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		deadlines := make(chan time.Time, 2)
		h := func(ctx context.Context, _ *model.Task) (interface{}, error) {
			dl, ok := ctx.Deadline()
			if !ok {
				dl = time.Time{}
			}
			deadlines <- dl
			return nil, nil
		}
		if err := b.r.Start("dl", h); err != nil {
			t.Fatal(err)
		}
		ts := makeTasks("dl", "d", 2)
		start := time.Now().Add(-10 * time.Second)
		ts[0].StartTime = start.UnixMilli()
		ts[0].TaskDefinition = &model.TaskDef{Name: "dl", TimeoutSeconds: 60}
		b.f.push("", ts[0])
		if got, want := <-deadlines, time.UnixMilli(start.UnixMilli()).Add(60*time.Second); !got.Equal(want) {
			t.Fatalf("deadline %v, want %v", got, want)
		}
		b.f.push("", ts[1])
		if got := <-deadlines; !got.IsZero() {
			t.Fatalf("deadline %v for a task without timeout", got)
		}
	})
}

func TestHooksAreCalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var polls, empties, started, finished atomic.Int32
		var statuses sync.Map
		hooks := Hooks{
			OnPoll:        func(string, int) { polls.Add(1) },
			OnEmptyPoll:   func(string) { empties.Add(1) },
			OnTaskStarted: func(*model.Task) { started.Add(1) },
			OnTaskFinished: func(t *model.Task, s model.TaskResultStatus, d time.Duration) {
				finished.Add(1)
				statuses.Store(t.TaskId, s)
				if d != 2*time.Second {
					panic(fmt.Sprintf("duration %v, want the handler's 2s", d))
				}
			},
		}
		b := setup(t, WithHooks(hooks), WithPollTimeout(time.Second))
		h := func(_ context.Context, t *model.Task) (interface{}, error) {
			time.Sleep(2 * time.Second)
			if t.TaskId == "k-1" {
				return nil, errors.New("no")
			}
			return nil, nil
		}
		if err := b.r.Start("hk", h, BatchSize(2)); err != nil {
			t.Fatal(err)
		}
		b.f.push("", makeTasks("hk", "k", 2)...)
		waitFor(t, 5*time.Minute, "done", func() bool { return b.f.updatedCount() == 2 })
		time.Sleep(3 * time.Second)
		if started.Load() != 2 || finished.Load() != 2 || polls.Load() < 2 || empties.Load() < 1 {
			t.Fatalf("started %d finished %d polls %d empty %d", started.Load(), finished.Load(), polls.Load(), empties.Load())
		}
		if s, _ := statuses.Load("k-1"); s != model.FailedTask {
			t.Fatalf("k-1 finished %v", s)
		}
	})
}

func TestStartValidation(t *testing.T) {
	r := newRunner(newFake())
	defer r.Shutdown(context.Background())
	fn := func(*model.Task) (interface{}, error) { return nil, nil }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"batch 0", r.StartWorker("a", fn, 0, time.Second), "batchSize must be >= 1, got 0"},
		{"batch -3", r.StartWorker("a", fn, -3, time.Second), "got -3"},
		{"interval 0", r.StartWorker("a", fn, 1, 0), "pollInterval must be >= 1ms, got 0s"},
		{"empty name", r.StartWorker("", fn, 1, time.Second), "taskName must not be empty"},
		{"nil fn", r.StartWorker("a", nil, 1, time.Second), "fn must not be nil"},
		{"nil handler", r.Start("a", nil), "handler must not be nil"},
		{"timeout 6s", r.Start("a", echo, PollTimeout(6*time.Second)), "pollTimeout must be between 0 and 5s, got 6s"},
		{"timeout sub-ms", r.Start("a", echo, PollTimeout(1500*time.Microsecond)), "whole number of milliseconds"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, tt.err, tt.want)
		}
	}
	bad := newRunner(newFake(), WithPollTimeout(-time.Second))
	if err := bad.Start("a", echo); err == nil || !strings.Contains(err.Error(), "WithPollTimeout: pollTimeout must be between 0 and 5s, got -1s") {
		t.Errorf("bad runner option: %v", err)
	}
	if len(r.Workers()) != 0 {
		t.Errorf("invalid starts created workers: %+v", r.Workers())
	}
}

func TestDeferredStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, WithDeferredStart(10*time.Second))
		if err := b.r.Start("late", echo); err != nil {
			t.Fatal(err)
		}
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if b.f.pollCount() != 0 {
			t.Fatal("polled before the deferred start")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if b.f.pollCount() == 0 {
			t.Fatal("no poll after the deferred start")
		}
	})
}

func TestDefaultLoggerIsNotTheGlobalOne(t *testing.T) {
	r := newRunner(newFake())
	if r.log == logrus.StandardLogger() {
		t.Fatal("default logger is logrus's global logger")
	}
	if l, ok := r.log.(*logrus.Logger); !ok || l.GetLevel() != logrus.InfoLevel {
		t.Fatalf("default logger %T not at info level", r.log)
	}
}

func TestFlappingPollErrorsAreRateLimitedToo(t *testing.T) {
	// A share of failed polls between successful ones (a 503 storm behind a
	// load balancer) starts a new streak with every failure; only the
	// first is announced within errorLogInterval, and the failures of the
	// silent streaks are counted into the next announced line.
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.f.pollErr = func(n int, _ pollRequest) error {
			if n%3 == 0 {
				return statusErr(503)
			}
			return nil
		}
		if err := b.r.Start("fl", echo); err != nil {
			t.Fatal(err)
		}
		time.Sleep(errorLogInterval + 5*time.Second)
		synctest.Wait()
		failed := b.f.pollCount() / 3
		warns := b.linesAt(logrus.WarnLevel, "poll failing")
		if failed < 50 {
			t.Fatalf("only %d failed polls", failed)
		}
		if warns != 2 {
			t.Fatalf("%d warn lines for %d flapping poll failures over %v, want 2 (first, then one after the interval)", warns, failed, errorLogInterval+5*time.Second)
		}
		if b.linesAt(logrus.WarnLevel, "errors in short streaks before") != 1 {
			t.Fatal("the second line does not count the silent streaks' errors")
		}
	})
}

// goroutineID reads the calling goroutine's id from its stack header
// ("goroutine 123 [running]:"); tests only.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// TestSlotGoroutinesRunTaskAfterTask: a worker keeps its slot goroutines
// between tasks instead of starting one per task (whose stack grows anew
// each time), never keeps more idle than it has slots, and lets them all go
// when it stops (setup's goleak check).
func TestSlotGoroutinesRunTaskAfterTask(t *testing.T) {
	for _, batch := range []int{1, 10} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				var mu sync.Mutex
				ids := map[string]int{}
				h := func(ctx context.Context, task *model.Task) (interface{}, error) {
					mu.Lock()
					ids[goroutineID()]++
					mu.Unlock()
					return echo(ctx, task)
				}
				if err := b.r.Start("reuse", h, BatchSize(batch)); err != nil {
					t.Fatal(err)
				}
				const n = 200
				b.f.push("", makeTasks("reuse", "r", n)...)
				waitFor(t, 5*time.Minute, "all results", func() bool { return b.f.updatedCount() == n })
				mu.Lock()
				defer mu.Unlock()
				if len(ids) > batch {
					t.Fatalf("%d tasks ran on %d goroutines with %d slot(s), want at most %d", n, len(ids), batch, batch)
				}
			})
		})
	}
}
