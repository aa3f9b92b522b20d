package faults

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// Scenario 6: handlers that panic, hang (ignoring their context), return a
// 50 MB output, or return values that JSON cannot encode, all in one runner
// beside a well-behaved task type. Each bad task ends with the right status
// and reason on the server; the good type's tasks all complete while every
// slot of the hanging type is still held.
func TestMisbehavingHandlers(t *testing.T) {
	skipShort(t)
	// Parallel with the rest of the suite (most of which waits out a
	// server outage): the cleanup's drain deadline (2 min) outlasts the
	// 50 MB delivery under -race even at a load average of 30.
	t.Parallel()
	const (
		good, goodBatch = 1000, 10
		panics          = 50
		unencodable     = 60
		hangs           = 5 // one per slot of the hanging type: it is blocked entirely
		hugeSize        = 50 << 20
	)
	e := newEnv(t, "handlers")
	once := &model.TaskDef{RetryCount: 0, ResponseTimeoutSeconds: 3600, TimeoutPolicy: model.TimeoutPolicyTimeOutWF,
		RateLimitFrequencyInSeconds: 1, BackoffScaleFactor: 1}
	e.define("good", nil)
	e.define("panicky", once)
	e.define("unencodable", once)
	e.define("huge", once)
	// The server times a hanging task out after 6 s; lease extensions (every
	// 2 s) keep the 4 s response timeout from firing first, unless the
	// machine is so loaded that an extension misses its 2 s margin: then the
	// response timeout ends the task, also TIMED_OUT.
	e.define("hang", &model.TaskDef{RetryCount: 0, TimeoutSeconds: 6, ResponseTimeoutSeconds: 4,
		TimeoutPolicy: model.TimeoutPolicyTimeOutWF, RateLimitFrequencyInSeconds: 1, BackoffScaleFactor: 1})

	release := make(chan struct{})
	var hanging atomic.Int32
	// The dev server here has no payload limits, like a Conductor whose
	// limits were raised; the client is told so (all thresholds off), and
	// the runner's job is to deliver the 50 MB output intact. Under
	// Conductor's default 10 MB limit the worker fails such a task at once
	// instead (test/integration TestPayloadOutputOverLimitFailsTaskAtOnce).
	r := e.runner(e.client(nil, client.WithPayloadThresholds(client.PayloadThresholds{})))
	starts := []struct {
		name  string
		h     worker.HandlerFunc
		batch int
	}{
		{"good", e.double(nil), goodBatch},
		{"panicky", func(_ context.Context, t *model.Task) (interface{}, error) {
			e.probe.executed(t.TaskId)
			panic(fmt.Sprintf("boom %v", t.InputData["k"]))
		}, 5},
		{"unencodable", func(_ context.Context, t *model.Task) (interface{}, error) {
			e.probe.executed(t.TaskId)
			switch k, _ := t.InputData["k"].(float64); int(k) % 3 {
			case 0:
				return map[string]interface{}{"ch": make(chan int)}, nil
			case 1:
				return map[string]interface{}{"fn": func() {}}, nil
			default:
				return map[string]interface{}{"nan": math.NaN()}, nil
			}
		}, 5},
		{"huge", func(_ context.Context, t *model.Task) (interface{}, error) {
			e.probe.executed(t.TaskId)
			return map[string]interface{}{"blob": strings.Repeat("x", hugeSize)}, nil
		}, 1},
		{"hang", func(_ context.Context, t *model.Task) (interface{}, error) {
			e.probe.executed(t.TaskId)
			hanging.Add(1)
			defer hanging.Add(-1)
			<-release // deliberately deaf to its context
			return map[string]interface{}{"late": true}, nil
		}, hangs},
	}
	for _, s := range starts {
		if err := r.Start(s.name, s.h, worker.BatchSize(s.batch)); err != nil {
			t.Fatal(err)
		}
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	hangIDs := e.start("hang", 0, hangs)
	// Every slot of the hanging type is taken before the good tasks come, so
	// that they can only run beside it.
	eventually(t, time.Minute, "every hanging handler to be running", func() bool { return hanging.Load() == hangs })
	panicIDs := e.start("panicky", 0, panics)
	unencIDs := e.start("unencodable", 0, unencodable)
	hugeIDs := e.start("huge", 0, 1)
	goodIDs := e.start("good", 0, good)

	began := time.Now()
	e.wait(goodIDs, 3*time.Minute)
	goodTook := time.Since(began)
	stillHanging := hanging.Load()
	rep := e.audit(goodIDs)
	t.Logf("scenario 6 (good type beside panicking, hanging, 50 MB and unencodable handlers): %s; %d good tasks took %s with %d of %d hanging handlers still blocked",
		rep, good, goodTook.Round(time.Millisecond), stillHanging, hangs)
	if rep.Completed != good || rep.Duplicates != 0 || rep.ExtraUpdates != 0 {
		t.Errorf("good tasks: %s", rep)
	}
	if stillHanging != hangs {
		t.Errorf("%d hanging handlers were running when the good tasks finished, want %d: the good type did not run beside them", stillHanging, hangs)
	}

	e.wait(append(append(append(append([]string(nil), panicIDs...), unencIDs...), hugeIDs...), hangIDs...), 2*time.Minute)
	only := func(id string) model.Task {
		wf, _ := e.srv.Workflow(id)
		if len(wf.Tasks) != 1 {
			t.Fatalf("workflow %s has %d tasks, want 1", id, len(wf.Tasks))
		}
		return wf.Tasks[0]
	}
	for _, id := range panicIDs {
		tk := only(id)
		want := fmt.Sprintf("handler panicked: boom %v", tk.InputData["k"])
		if tk.Status != model.TaskFailed || !strings.HasPrefix(tk.ReasonForIncompletion, want) ||
			!strings.Contains(tk.ReasonForIncompletion, "handlers_test.go") || len(tk.ReasonForIncompletion) > model.MaxReasonLength {
			t.Errorf("panicking task %s: %s %q (want FAILED, %q and a trimmed stack naming this file)", tk.TaskId, tk.Status, tk.ReasonForIncompletion, want)
		}
	}
	for _, id := range unencIDs {
		tk := only(id)
		if tk.Status != model.TaskFailedWithTerminalError || !strings.Contains(tk.ReasonForIncompletion, "unsupported") ||
			!strings.Contains(tk.ReasonForIncompletion, "task output field") {
			t.Errorf("unencodable output, task %s: %s %q (want FAILED_WITH_TERMINAL_ERROR naming the field and the unsupported value)", tk.TaskId, tk.Status, tk.ReasonForIncompletion)
		}
	}
	hugeTask := only(hugeIDs[0])
	blob, _ := hugeTask.OutputData["blob"].(string)
	if hugeTask.Status != model.TaskCompleted || len(blob) != hugeSize {
		t.Errorf("50 MB output: task %s %s with a %d-byte blob, want COMPLETED with %d bytes", hugeTask.TaskId, hugeTask.Status, len(blob), hugeSize)
	}
	byTimeout, byResponseTimeout := 0, 0
	for _, id := range hangIDs {
		tk := only(id)
		switch {
		case tk.Status != model.TaskTimedOut:
			t.Errorf("hanging task %s: %s %q (want TIMED_OUT by the server)", tk.TaskId, tk.Status, tk.ReasonForIncompletion)
		case strings.Contains(tk.ReasonForIncompletion, "Task timed out after"):
			byTimeout++
		case strings.Contains(tk.ReasonForIncompletion, "responseTimeout"):
			byResponseTimeout++
		default:
			t.Errorf("hanging task %s: TIMED_OUT with an unexpected reason %q", tk.TaskId, tk.ReasonForIncompletion)
		}
	}
	panicKind := e.counter("task_execute_error", map[string]string{"kind": "panic"})
	outputKind := e.counter("task_execute_error", map[string]string{"kind": "invalid_output"})
	if panicKind != panics || outputKind != unencodable {
		t.Errorf("task_execute_error: panic %v (want %d), invalid_output %v (want %d)", panicKind, panics, outputKind, unencodable)
	}

	// Released at last, the hanging handlers' results still reach the server,
	// which ignores them: the tasks ended long ago.
	close(release)
	released = true
	eventually(t, time.Minute, "the late results of the hanging handlers", func() bool {
		for _, id := range hangIDs {
			posted := false
			for _, u := range e.srv.Updates(only(id).TaskId) {
				posted = posted || !u.ExtendLease
			}
			if !posted {
				return false
			}
		}
		return true
	})
	leases := e.counter("task_lease_extension_total", map[string]string{"taskType": "hang"})
	t.Logf("scenario 6: %d panics -> FAILED with stack, %d unencodable -> FAILED_WITH_TERMINAL_ERROR, 50 MB output -> COMPLETED intact, %d hangs -> TIMED_OUT by the server (%d by timeoutSeconds, %d by a missed lease extension; %v extensions in all), late results posted and ignored; handler error metrics panic=%v invalid_output=%v",
		panics, unencodable, hangs, byTimeout, byResponseTimeout, leases, panicKind, outputKind)
	for _, w := range r.Workers() {
		if w.UpdateGiveUps != 0 {
			t.Errorf("worker %s gave up on %d results", w.TaskType, w.UpdateGiveUps)
		}
	}
}
