package realfaults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-go/baton/sdk/worker"
)

// TestNetworkFaults puts a TCP proxy between the workers and the server and,
// with work pending each time, (1) resets every connection three times a
// second apart, (2) adds 200 ms of latency each way for 15 s, (3) goes
// half-open for 30 s: connections are accepted and kept but nothing is
// passed on, so requests get neither an answer nor an error.
//
// Checked: every workflow completes with nothing lost or applied twice; at
// the end of the half-open period no request of the workers is still
// waiting past its deadline (each has the client's 10 s timeout, plus the
// 5 s long poll for polls); the workers take tasks and have results
// accepted again after each fault is removed; after Shutdown no goroutine
// is left. Measured: how long pickup took after each fault.
func TestNetworkFaults(t *testing.T) {
	srv := needServer(t)
	ignore := goleak.IgnoreCurrent()
	n := workflowsKnob(t)
	const (
		requestTimeout = 10 * time.Second
		latency        = 200 * time.Millisecond
		latencyFor     = 15 * time.Second
		halfOpenFor    = 30 * time.Second
		batch          = 16
	)
	// A response timeout longer than the half-open period, so that results
	// held through it are still wanted, and short enough that the tasks
	// whose poll answer a reset cut off come back soon.
	const rto = 45
	rig := newRig(t, srv, "net", taskDef(rto))
	proxy := newTCPProxy(t, hostPort(t, srv.apiURL))
	runner := rig.runner(rig.workerClient("http://"+proxy.addr()+"/api", requestTimeout))
	if err := runner.Start(rig.taskType, rig.handler(5*time.Millisecond), worker.BatchSize(batch)); err != nil {
		t.Fatal(err)
	}

	// Each phase starts its share of the workflows with the worker paused
	// (so that they are all queued, however slowly the server starts them),
	// lets the workers get half-way through it, injects its fault and removes
	// it, then starts a few more workflows so that there is work to pick up
	// whatever the fault left, and measures how soon after the fault's end
	// the workers took tasks and had a result accepted.
	chunk := max(n/3, 4*batch)
	var all []string
	var lines []string
	phase := func(name string, fault func() string) {
		t.Helper()
		runner.Pause(rig.taskType)
		ids := rig.start(chunk)
		all = append(all, ids...)
		before := rig.rec.ackedTasks()
		runner.Resume(rig.taskType)
		rig.waitProgress(before+chunk/2, 10*time.Minute)
		what := fault()
		healed := time.Now()
		rig.probe.mark(healed)
		all = append(all, rig.start(batch)...)
		waitUntil(t, 5*time.Minute, "the workers to take tasks and have a result accepted after "+name, func() bool {
			poll, upd := rig.probe.since(healed)
			return poll.ok && upd.ok
		})
		poll, upd := rig.probe.since(healed)
		lines = append(lines, fmt.Sprintf("%s: %s; after it, first poll with tasks %s, first result accepted %s", name, what, poll, upd))
	}

	phase("reset", func() string {
		var counts []string
		for i := 0; i < 3; i++ {
			if i > 0 {
				time.Sleep(time.Second)
			}
			counts = append(counts, fmt.Sprint(proxy.resetAll()))
		}
		return "reset " + strings.Join(counts, "+") + " connections"
	})
	phase("latency", func() string {
		before, polls := rig.rec.ackedTasks(), rig.rec.code("poll", 200)
		proxy.setLatency(latency)
		time.Sleep(latencyFor)
		var state []string
		for _, w := range runner.Workers() {
			state = append(state, fmt.Sprintf("%s/%s, %d slots busy", w.State, w.IdleWait, w.SlotsInUse))
		}
		proxy.setLatency(0)
		return fmt.Sprintf("%s each way for %s, %d results accepted and %d polls answered meanwhile (worker at the end: %s)",
			latency, latencyFor, rig.rec.ackedTasks()-before, rig.rec.code("poll", 200)-polls, strings.Join(state, "; "))
	})
	var stuck []flight
	phase("half-open", func() string {
		before := rig.rec.ackedTasks()
		timeouts := rig.rec.code("poll", 0) + rig.rec.code("update", 0)
		proxy.setHalfOpen(true)
		time.Sleep(halfOpenFor)
		// Every request started in the period must have ended by now: none
		// may wait longer than its timeout (10 s, 15 s for a long poll) with
		// a few seconds' slack.
		stuck = rig.rec.stuck(requestTimeout + 5*time.Second + 5*time.Second)
		accepted := rig.rec.ackedTasks() - before
		timeouts = rig.rec.code("poll", 0) + rig.rec.code("update", 0) - timeouts
		held := proxy.setHalfOpen(false)
		return fmt.Sprintf("%s, %d connections held, %d requests ended without an answer, %d results accepted meanwhile, %d requests still waiting past their deadline at the end",
			halfOpenFor, held, timeouts, accepted, len(stuck))
	})
	for _, f := range stuck {
		t.Errorf("a %s request (%s) was still waiting %s after it started", f.kind, f.path, ms(time.Since(f.start)))
	}

	rig.waitEnded(all, completionDeadline)
	rig.settle(runner)
	rep := rig.audit(all)
	if err := runner.stop(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	proxy.close()
	rig.ctl.CloseIdleConnections()
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left after Shutdown: %v", err)
	}
	for _, l := range lines {
		t.Logf("RESULT net %s: %s", srv, l)
	}
	t.Logf("RESULT net %s: %s; responseTimeoutSeconds %d; answers %s", srv, rep, rto, rig.rec.codesString())
}
