package realfaults

import (
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/worker"
)

// TestServerKilled kills the Conductor server with SIGKILL a third of the
// way through REALFAULTS_WORKFLOWS one-task workflows and starts it again on
// the same port with its store kept (3.21: the Redis holding workflows and
// queues keeps running; 3.32: the same SQLite file). The workers are not
// told: they see refused connections and then the server again.
//
// Checked from the server: every workflow completes; every result the
// workers had accepted is the one the server holds; no result is applied
// over another; nothing the handlers produced is dropped. Measured: how long
// after /health answered again the workers took tasks and had results
// accepted.
func TestServerKilled(t *testing.T) {
	srv := needServer(t)
	if srv.data == "memory" {
		t.Skipf("%s keeps its workflows in the JVM's memory, so a kill loses every one of them; run it with CONDUCTOR_DATA=redis", srv)
	}
	n := workflowsKnob(t)
	rto := responseTimeoutKnob(t)
	const batch = 32
	rig := newRig(t, srv, "kill", taskDef(rto))
	ids := rig.start(n)

	runner := rig.runner(rig.workerClient(srv.apiURL, 10*time.Second))
	if err := runner.Start(rig.taskType, rig.handler(5*time.Millisecond), worker.BatchSize(batch)); err != nil {
		t.Fatal(err)
	}
	rig.waitProgress(n/3, 10*time.Minute)

	acceptedBefore := rig.rec.ackedTasks()
	inFlight := 0
	for _, w := range runner.Workers() {
		inFlight += w.SlotsInUse
	}
	killAt := time.Now()
	t.Logf("kill: %s", mustHelper(t, srv.restart, "kill"))
	rig.probe.mark(time.Now())
	upAt := restartServer(t, srv)
	down := upAt.Sub(killAt)

	rig.waitEnded(ids, completionDeadline)
	rig.settle(runner)
	rep := rig.audit(ids)
	pollAfter, updAfter := rig.probe.since(upAt)
	_, updAfterKill := rig.probe.since(killAt)
	if err := runner.stop(); err != nil {
		t.Errorf("shutdown: %v", err)
	}

	t.Logf("RESULT kill %s: %s", srv, rep)
	t.Logf("RESULT kill %s: killed after %d of %d results were accepted, %d slots busy; down (kill to /health) %s; "+
		"relative to /health (negative: before it): first poll with tasks %s, first result accepted %s (%s after the kill); responseTimeoutSeconds %d; answers %s",
		srv, acceptedBefore, n, inFlight, ms(down), pollAfter, updAfter, updAfterKill, rto, rig.rec.codesString())
	// The runner's backoff is capped at 5 s; two minutes only catches a
	// worker that never came back. (3.32 serves the API a moment before its
	// /health says UP, so the first acceptance may come before it.)
	if !updAfter.ok || updAfter.d > 2*time.Minute {
		t.Errorf("the workers had no result accepted within 2 minutes of /health (first: %s)", updAfter)
	}
}
