package realfaults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// TestRedisRestarted restarts the Redis of Conductor 3.21 as it ships
// (workflows in the server's memory, task queues in Redis) a third of the way
// through REALFAULTS_WORKFLOWS workflows. The throw-away Redis has no
// persistence, so it comes back empty: every queued task message and the
// decider queue are gone, while the server still holds every workflow.
//
// Checked: every result the workers got a 2xx for is the one the server
// holds; the workflows left unfinished are explained, each of them: its task
// was still SCHEDULED (never handed out) and its queue message died with the
// Redis, or a poll took it off the queue and marked it IN_PROGRESS and then
// failed with 500 because acknowledging the message to the dying Redis
// failed, so no worker ever got it (and with the decider queue gone nothing
// times it out); workflows started after the restart run normally; the
// re-queue API (POST /tasks/queue/requeue/{taskType}) puts every pending task
// back and then every workflow completes with nothing lost or applied twice.
func TestRedisRestarted(t *testing.T) {
	srv := needServer(t)
	if srv.redisRestart == "" {
		t.Skip("needs a Redis started by test/conductor/run.sh (CONDUCTOR_REDIS_RESTART)")
	}
	if srv.data != "memory" {
		t.Skipf("%s keeps its workflows in the Redis too: restarting a Redis without persistence loses all of them. "+
			"This scenario is for 3.21 as shipped (CONDUCTOR_DATA unset)", srv)
	}
	n := workflowsKnob(t)
	rig := newRig(t, srv, "redis", taskDef(responseTimeoutKnob(t)))
	ids := rig.start(n)

	runner := rig.runner(rig.workerClient(srv.apiURL, 10*time.Second))
	if err := runner.Start(rig.taskType, rig.handler(5*time.Millisecond), worker.BatchSize(32)); err != nil {
		t.Fatal(err)
	}
	rig.waitProgress(n/3, 10*time.Minute)
	acceptedBefore := rig.rec.ackedTasks()
	t.Logf("redis restart: %s", mustHelper(t, srv.redisRestart, "restart"))
	restartedAt := time.Now()

	// The workers finish what they hold; nothing more comes from the queue.
	waitIdle(t, rig, runner, 15*time.Second, 5*time.Minute)
	acceptedAfter := rig.rec.ackedTasks() - acceptedBefore

	wfs := rig.workflows(ids)
	acks := rig.rec.ackSnapshot()
	var completed, stuck, orphaned, acked, reflected int
	for _, id := range ids {
		wf := wfs[id]
		if wf.Status == model.WorkflowCompleted {
			completed++
		}
		for _, tk := range wf.Tasks {
			if a := acks[tk.TaskId]; len(a) > 0 {
				acked++
				if tk.Status == model.TaskCompleted && tk.OutputData["token"] == a[0].token {
					reflected++
				} else {
					t.Errorf("task %s: the workers had result %s accepted, the server shows %s %v", tk.TaskId, a[0].token, tk.Status, tk.OutputData)
				}
			}
		}
		if wf.Status == model.WorkflowCompleted {
			continue
		}
		if wf.Status == model.WorkflowRunning && len(wf.Tasks) == 1 {
			tk := wf.Tasks[0]
			switch {
			case tk.Status == model.TaskScheduled && tk.PollCount == 0:
				stuck++ // never handed out: its queue message was in the Redis
				continue
			case tk.Status == model.TaskInProgress && len(rig.probe.tokens(tk.TaskId)) == 0 && len(acks[tk.TaskId]) == 0:
				// A poll took it off the queue and marked it IN_PROGRESS, then
				// failed with 500 when it acknowledged the message to the
				// dying Redis (ExecutionService.poll): no worker got it.
				orphaned++
				continue
			}
		}
		t.Errorf("workflow %s is unfinished for another reason than a lost queue message: %s", id, describe(wf))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sizes, err := rig.ctl.Tasks().QueueSizes(ctx, rig.taskType)
	if err != nil {
		t.Fatalf("queue size: %v", err)
	}
	poll5xx := 0
	for code := 500; code < 600; code++ {
		poll5xx += rig.rec.code("poll", code)
	}
	t.Logf("RESULT redis %s: after the Redis restart: %d workflows completed; %d stuck with their task SCHEDULED and its queue message lost; "+
		"%d stuck with their task IN_PROGRESS though no worker got it (the poll that took it failed: %d polls answered 5xx); queue size now %d; "+
		"%d results accepted before the restart, %d after (tasks the workers held); %d accepted results checked, %d reflected on the server",
		srv, completed, stuck, orphaned, poll5xx, sizes[rig.taskType], acceptedBefore, acceptedAfter, acked, reflected)
	if completed+stuck+orphaned != n {
		t.Fatalf("%d completed + %d stuck + %d orphaned != %d workflows", completed, stuck, orphaned, n)
	}
	if orphaned > 0 && poll5xx == 0 {
		t.Errorf("%d tasks are IN_PROGRESS with no worker, but no poll failed", orphaned)
	}
	if stuck > 0 && sizes[rig.taskType] != 0 {
		t.Errorf("%d workflows are stuck but the queue says it holds %d tasks", stuck, sizes[rig.taskType])
	}

	// New work is not affected: the queue exists again as soon as a task is
	// scheduled.
	fresh := rig.start(20)
	rig.waitEnded(fresh, 5*time.Minute)

	// The re-queue API pushes a message for every pending task of the type
	// that the server holds, SCHEDULED and IN_PROGRESS alike (the workers
	// are idle now, so no task is running).
	requeueAt := time.Now()
	requeued := requeue(t, srv, rig.taskType)
	all := append(append([]string(nil), ids...), fresh...)
	rig.waitEnded(all, completionDeadline)
	allDone := time.Since(requeueAt)
	rig.settle(runner)
	rep := rig.audit(all)
	if err := runner.stop(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	t.Logf("RESULT redis %s: requeue answered %d for %d stuck workflows; all %d done %s after it (Redis restarted %s before); %s; answers %s",
		srv, requeued, stuck+orphaned, len(all), ms(allDone), ms(time.Since(restartedAt)), rep, rig.rec.codesString())
	if requeued < stuck+orphaned {
		t.Errorf("requeue put back %d tasks, %d were stuck", requeued, stuck+orphaned)
	}
}

// waitIdle waits until no slot of the runner is in use and no result was
// accepted for quiet.
func waitIdle(t *testing.T, rig *rig, r *stoppable, quiet, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last, since := -1, time.Now()
	for {
		busy := 0
		for _, w := range r.Workers() {
			busy += w.SlotsInUse
		}
		if a := rig.rec.ackedTasks(); a != last || busy > 0 {
			last, since = a, time.Now()
		}
		if time.Since(since) >= quiet {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers were still busy after %s", within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// requeue calls POST /tasks/queue/requeue/{taskType} (not part of the SDK's
// client: an operator's call) and returns the count the server answers.
func requeue(t *testing.T, srv server, taskType string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.apiURL+"/tasks/queue/requeue/"+url.PathEscape(taskType), nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("requeue: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("requeue: %d %s", resp.StatusCode, body)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(body)))
	if err != nil {
		t.Fatalf("requeue answered %q: %v", body, fmt.Errorf("not a count: %w", err))
	}
	return n
}
