package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/worker"
)

// Scenario 2: for the whole run, 20% of polls and of updates are answered
// 500, 502, 503 or 429 without being processed, once without and once with
// Retry-After. Nothing the server did is lost, so every task must run exactly
// once and the server must see exactly one update per task; every failed
// attempt is counted.
func TestInjectedErrorStatuses(t *testing.T) {
	skipShort(t)
	t.Parallel() // own dev server and runner; the suite's wall time is then about its longest scenario
	for _, tc := range []struct {
		name       string
		tasks      int
		retryAfter time.Duration
	}{
		{"no Retry-After", 1000, 0},
		{"Retry-After 1s", 400, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const batch = 20
			e := newEnv(t, "statuses/"+tc.name)
			e.define("flaky", nil) // response timeout 3600 s: a lost task would hang the test
			f := conductortest.Fault{ErrorRate: 0.2, Statuses: []int{500, 502, 503, 429}, RetryAfter: tc.retryAfter}
			e.srv.SetFaults(conductortest.Faults{"poll": f, "update": f})
			r := e.runner(e.client(nil))
			began := time.Now()
			if err := r.Start("flaky", e.double(nil), worker.BatchSize(batch)); err != nil {
				t.Fatal(err)
			}
			// One batch every 200 ms: the queue runs dry between batches, so
			// slots go back to polling and polls meet the faults as often as
			// updates do.
			ids := e.trickle("flaky", 0, tc.tasks, batch, 200*time.Millisecond)
			e.wait(ids, 3*time.Minute)
			took := time.Since(began)
			e.srv.ClearFaults()
			e.settle(r)
			rep := e.audit(ids)
			st := e.srv.Stats()
			t.Logf("scenario 2 (%s, %d tasks, batch %d): %s; injected errors %d; run took %s",
				tc.name, tc.tasks, batch, rep, st.InjectedErrors, took.Round(time.Millisecond))
			kinds := map[string]float64{}
			for _, k := range []string{"server", "throttled"} {
				kinds[k] = e.counter("task_poll_error", map[string]string{"kind": k})
			}
			polls := uint64(0)
			for _, w := range r.Workers() {
				polls += w.Polls
			}
			t.Logf("scenario 2 (%s): %d batch polls; task_poll_error by kind %v, task_update_error %v", tc.name, polls,
				kinds, e.counter("task_update_error", nil))

			if rep.Completed != tc.tasks || rep.Duplicates != 0 || rep.Redelivered != 0 || rep.ExtraUpdates != 0 {
				t.Errorf("want every task run once and updated once: %s", rep)
			}
			if st.InjectedErrors == 0 || rep.UpdateRetries == 0 || rep.PollErrors == 0 {
				t.Errorf("faults were not injected or not counted: injected %d, %s", st.InjectedErrors, rep)
			}
			if kinds["server"]+kinds["throttled"] != float64(rep.PollErrors) || rep.PollErrors == 0 {
				t.Errorf("poll errors not counted by kind: %v", kinds)
			}
			// Every injected error hit a poll or an update; every update failure
			// was retried (the server saw one update per task, so each failed
			// attempt was followed by another).
			if got := int64(rep.UpdateRetries) + rep.PollErrors; got != st.InjectedErrors {
				t.Errorf("injected %d errors but the runner counted %d update retries + %d poll errors", st.InjectedErrors, rep.UpdateRetries, rep.PollErrors)
			}
		})
	}
}

// Scenario 3: 15% of updates are applied by the server and then answered by
// closing the connection, so the worker sees an error for an update that took
// effect. The retry must be harmless (the server ignores an update of a task
// that already ended) and counted. When the lost answer was an update-v2 that
// carried the next task, that task was handed out to nobody: the server times
// it out (response timeout 2 s) and hands it out again.
func TestDroppedUpdateAnswers(t *testing.T) {
	skipShort(t)
	t.Parallel() // own dev server and runner; the suite's wall time is then about its longest scenario
	const tasks, batch = 1000, 10
	e := newEnv(t, "dropped")
	e.define("dropped", redeliverable())
	ids := e.start("dropped", 0, tasks)
	e.srv.SetFaults(conductortest.Faults{"update": {DropRate: 0.15}})
	r := e.runner(e.client(nil))
	if err := r.Start("dropped", e.double(nil), worker.BatchSize(batch)); err != nil {
		t.Fatal(err)
	}
	e.wait(ids, 3*time.Minute)
	e.srv.ClearFaults()
	e.settle(r)
	rep := e.audit(ids)
	st := e.srv.Stats()
	updates := len(e.srv.Updates(""))
	t.Logf("scenario 3 (15%% of update answers dropped after the update was applied, %d tasks, batch %d): %s; dropped %d, server updates %d, updates ignored as late %d",
		tasks, batch, rep, st.DroppedAnswers, updates, st.UpdatesToTerminal)

	if rep.Completed != tasks || rep.Duplicates != 0 {
		t.Errorf("want every task completed and no task id run twice: %s", rep)
	}
	if st.DroppedAnswers == 0 {
		t.Fatal("no answer was dropped")
	}
	// Each dropped answer belonged to an update the server applied; the
	// worker sent that result once more. So the server received one update
	// per handler run plus one per dropped answer, and the runner counted one
	// retry per dropped answer.
	if want := rep.Executions + int(st.DroppedAnswers); updates != want {
		t.Errorf("server received %d updates, want %d executions + %d dropped = %d", updates, rep.Executions, st.DroppedAnswers, want)
	}
	if rep.UpdateRetries != st.DroppedAnswers {
		t.Errorf("runner counted %d update retries, server dropped %d answers", rep.UpdateRetries, st.DroppedAnswers)
	}
	if int(st.UpdatesToTerminal) < rep.ExtraUpdates {
		t.Errorf("%d extra updates but only %d were ignored as late", rep.ExtraUpdates, st.UpdatesToTerminal)
	}
}

// Scenario 5: a slow server (200 ms before every request), then a server
// whose poll and update answers are, 20% of the time, truncated JSON, an HTML
// page with status 200 or an empty 200, then a server that behaves again. No
// crash, every workflow of every phase completes (tasks lost inside a mangled
// answer are re-delivered by the server's response timeout), decode errors
// are counted, and the runner is back to normal at once.
func TestSlowAndMalformedAnswers(t *testing.T) {
	skipShort(t)
	t.Parallel() // own dev server and runner; the suite's wall time is then about its longest scenario
	const batch = 10
	e := newEnv(t, "malformed")
	e.define("odd", redeliverable())
	// Phases A and C: a task the worker never saw still comes back (after
	// 30 s, within the phase's wait), but a machine loaded enough to hold a
	// result past 2 s does not make a delivered task look lost.
	slowDef := redeliverable()
	slowDef.ResponseTimeoutSeconds = 30
	e.define("slowly", slowDef)
	r := e.runner(e.client(nil))
	for _, tt := range []string{"odd", "slowly"} {
		if err := r.Start(tt, e.double(nil), worker.BatchSize(batch), worker.PollTimeout(time.Second)); err != nil {
			t.Fatal(err)
		}
	}

	// Phase A: slow. Nothing is lost, so nothing may be re-delivered.
	slow := e.start("slowly", 0, 300)
	e.srv.SetFaults(conductortest.Faults{"": {Latency: 200 * time.Millisecond}})
	began := time.Now()
	e.wait(slow, 3*time.Minute)
	tookSlow := time.Since(began)
	e.settle(r)
	repSlow := e.audit(slow)
	t.Logf("scenario 5a (200 ms latency, 300 tasks, batch %d): %s; took %s", batch, repSlow, tookSlow.Round(time.Millisecond))
	if repSlow.Completed != 300 || repSlow.Redelivered != 0 || repSlow.ExtraUpdates != 0 || repSlow.Duplicates != 0 {
		t.Errorf("slow server: want every task exactly once: %s", repSlow)
	}

	// Phase B: mangled answers, fed in bursts so that polls (not only
	// update-v2) carry tasks.
	before, beforePoll := e.probe.updateRetries.Load(), e.probe.pollErrors.Load()
	e.srv.SetFaults(conductortest.Faults{
		"poll":   {MalformedRate: 0.2},
		"update": {MalformedRate: 0.2},
	})
	bad := e.trickle("odd", 1000, 500, batch, 100*time.Millisecond)
	e.wait(bad, 3*time.Minute)
	e.srv.ClearFaults()
	e.settle(r)
	repBad := e.audit(bad)
	st := e.srv.Stats()
	pollErrs := map[string]float64{}
	for _, k := range []string{"decode", "other", "timeout", "connection"} {
		pollErrs[k] = e.counter("task_poll_error", map[string]string{"kind": k})
	}
	t.Logf("scenario 5b (20%% of poll and update answers truncated / HTML / empty, 500 tasks, batch %d): %s; mangled answers %d; in this phase %d poll errors (task_poll_error by kind %v) and %d update retries",
		batch, repBad, st.MalformedAnswers, e.probe.pollErrors.Load()-beforePoll, pollErrs, e.probe.updateRetries.Load()-before)
	if repBad.Completed != 500 || repBad.Duplicates != 0 {
		t.Errorf("mangled answers: want every workflow completed and no task id run twice: %s", repBad)
	}
	if st.MalformedAnswers == 0 || e.probe.pollErrors.Load() == beforePoll || e.counter("task_poll_error", nil) == 0 {
		t.Errorf("mangled answers not injected or not counted as poll errors: injected %d, %s", st.MalformedAnswers, repBad)
	}

	// Phase C: the server behaves again. Whether an answer is mangled is
	// decided when it is sent, with the faults in force then, so a long poll
	// parked before ClearFaults is answered cleanly too.
	goodAt := e.probe.mark()
	good := e.start("slowly", 5000, 200)
	e.wait(good, time.Minute)
	allDone := time.Since(goodAt)
	e.settle(r)
	repGood := e.audit(good)
	pollRec, updRec := e.probe.recovery()
	t.Logf("scenario 5c (faults cleared, 200 tasks): %s; once new tasks arrived: first poll answered %s later, first result accepted %s later, all 200 done in %s",
		repGood, pollRec.Round(time.Millisecond), updRec.Round(time.Millisecond), allDone.Round(time.Millisecond))
	if repGood.Completed != 200 || repGood.Redelivered != 0 || repGood.ExtraUpdates != 0 || repGood.Duplicates != 0 {
		t.Errorf("after the faults: want every task exactly once: %s", repGood)
	}
	for _, w := range r.Workers() {
		if !w.Ready || w.State == "backing_off" {
			t.Errorf("worker not healthy after the faults: %s", fmt.Sprintf("%+v", w))
		}
	}
}

// A poll answer that cannot be decoded must be counted with the metrics kind
// made for it ("decode"), so that a dashboard can tell a broken proxy from a
// network problem.
func TestUndecodablePollCountedAsDecode(t *testing.T) {
	skipShort(t)
	t.Parallel() // own dev server and runner; the suite's wall time is then about its longest scenario
	e := newEnv(t, "decode")
	e.define("undecodable", redeliverable())
	e.srv.SetFaults(conductortest.Faults{"poll": {MalformedRate: 1, Malformed: []string{"truncated-json"}}})
	r := e.runner(e.client(nil))
	if err := r.Start("undecodable", e.double(nil), worker.PollTimeout(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	e.start("undecodable", 0, 1)
	eventually(t, 30*time.Second, "a failed poll", func() bool { return e.probe.pollErrors.Load() > 0 })
	if got := e.counter("task_poll_error", map[string]string{"kind": "decode"}); got == 0 {
		t.Errorf("task_poll_error{kind=decode} = 0 after %d undecodable poll answers (other: %v)",
			e.probe.pollErrors.Load(), e.counter("task_poll_error", map[string]string{"kind": "other"}))
	}
}
