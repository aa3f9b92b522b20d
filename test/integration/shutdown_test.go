package integration

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// Issue 23 point 6: Conductor 3.32 keeps serving a held poll whose client
// went away and starts the next task for that departed worker, where it sits
// IN_PROGRESS for its response timeout (an hour here). A runner's Shutdown
// used to abandon its held polls, so the first task queued after it was
// swallowed. Each case shuts a runner down while its poll is out, queues a
// task, and then needs a second runner to complete the workflow well within
// the response timeout; the first runner may run the task itself (graceful)
// or must hand it back (deadline passed), never keep it.
func TestShutdownSwallowsNoTask(t *testing.T) {
	cases := []struct {
		name     string
		opts     []worker.WorkerOption
		deadline time.Duration // of Shutdown's context
		during   bool          // queue the task while Shutdown runs, not after it returned
		mayRun   bool          // the first runner may run the task
	}{
		{"queued after graceful shutdown, held poll", []worker.WorkerOption{worker.PollTimeout(5 * time.Second)}, 30 * time.Second, false, false},
		{"queued after graceful shutdown, default", nil, 30 * time.Second, false, false},
		{"queued during graceful shutdown, held poll", []worker.WorkerOption{worker.PollTimeout(5 * time.Second)}, 30 * time.Second, true, true},
		{"queued after shutdown deadline passed with the poll out", []worker.WorkerOption{worker.PollTimeout(5 * time.Second)}, 50 * time.Millisecond, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			task := uniq("shutdown_swallow")
			wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 0, ResponseTimeoutSeconds: 3600, TimeoutSeconds: 7200})
			var ranFirst, ranSecond atomic.Int64
			handler := func(n *atomic.Int64) worker.HandlerFunc {
				return func(ctx context.Context, tk *model.Task) (interface{}, error) {
					n.Add(1)
					return map[string]interface{}{"ok": true}, nil
				}
			}
			first := newRunner(t, worker.WithWorkerID("it-first-"+env.runID))
			if err := first.Start(task, handler(&ranFirst), c.opts...); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond) // idle: its poll is out on the server
			ctx, cancel := context.WithTimeout(context.Background(), c.deadline)
			defer cancel()
			began := time.Now()
			done := make(chan error, 1)
			go func() { done <- first.Shutdown(ctx) }()
			var id string
			start := func() {
				id = startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"n": 1}})
			}
			if c.during {
				time.Sleep(300 * time.Millisecond) // Shutdown has begun, the poll is out
				start()
			}
			err := <-done
			if c.deadline < time.Second {
				if !errors.Is(err, worker.ErrShutdown) {
					t.Fatalf("Shutdown past its deadline with a poll out: %v, want ErrShutdown", err)
				}
			} else if err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if !c.during {
				start() // right after Shutdown returned
			}
			first.WaitWorkers()
			// A poll the first runner abandoned would still be served for up
			// to its 5 s timeout; the second runner must not start before
			// that, or it would take the task before the abandoned poll did.
			time.Sleep(time.Until(began.Add(6 * time.Second)))
			second := newRunner(t, worker.WithWorkerID("it-second-"+env.runID))
			if err := second.Start(task, handler(&ranSecond)); err != nil {
				t.Fatal(err)
			}
			wf := waitWorkflow(t, id, model.WorkflowCompleted)
			if !c.mayRun && ranFirst.Load() != 0 {
				t.Fatalf("the first runner ran %d task(s) after its shutdown deadline", ranFirst.Load())
			}
			if got := ranFirst.Load() + ranSecond.Load(); got != 1 {
				t.Fatalf("the task ran %d times (first runner %d, second %d), want once", got, ranFirst.Load(), ranSecond.Load())
			}
			t.Logf("%s on %s: run by the first runner %d, by the second %d; %s", c.name, env.version, ranFirst.Load(), ranSecond.Load(), describeWorkflow(wf))
		})
	}
}

// What Shutdown's hand-back relies on, on every server: an IN_PROGRESS
// result without callbackAfterSeconds puts the task back in its queue at
// once, so the next poll gets it.
func TestInProgressWithoutCallbackRequeuesAtOnce(t *testing.T) {
	t.Parallel()
	task := uniq("handback")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 0, ResponseTimeoutSeconds: 3600, TimeoutSeconds: 7200})
	startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"n": 1}})
	tk := pollTask(t, task, "", "it-leaving")
	update(t, &model.TaskResult{TaskId: tk.TaskId, WorkflowInstanceId: tk.WorkflowInstanceId, WorkerId: "it-leaving", Status: model.InProgressTask})
	// A poll with timeout 0 asks for what is queued now: no waiting.
	var again []model.Task
	for range 20 {
		var err error
		again, err = env.api.Tasks().BatchPoll(testCtx(t, 30*time.Second), task, client.PollOptions{Count: 1, WorkerID: "it-next"})
		if err != nil {
			t.Fatal(err)
		}
		if len(again) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond) // a queue write may lag its update by a moment
	}
	if len(again) != 1 || again[0].TaskId != tk.TaskId {
		t.Fatalf("after handing back %s, polls with timeout 0 over 2 s got %d task(s), want it back", tk.TaskId, len(again))
	}
	if again[0].PollCount < 2 {
		t.Errorf("task handed out again with pollCount %d, want 2 or more", again[0].PollCount)
	}
}
