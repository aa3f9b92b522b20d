package integration

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// Issue 23: a server that never wakes a held poll for one task (3.21), or
// a cluster whose nodes wake late for tasks queued through another node, is
// recognised from isolated tasks and its idle types are watched; one that
// wakes (3.32, one node) is not taken for it. Isolated tasks about a second apart, as
// in make bench-conductor's latency scenario. The verdict needs two tasks
// that arrive early in a probe, so the test takes up to 40 tasks (about a
// minute) and runs only with BATON_IT_SCHEDULER=1: it measures, it is not
// part of make test-conductor.
func TestSchedulerLearnsWhetherHeldPollsWake(t *testing.T) {
	if os.Getenv("BATON_IT_SCHEDULER") == "" {
		t.Skip("set BATON_IT_SCHEDULER=1 to run (about a minute per server)")
	}
	const n = 40
	task := uniq("sched_learn")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 0, ResponseTimeoutSeconds: 300})
	var mu sync.Mutex
	started := map[int]time.Time{}
	r := newRunner(t)
	err := r.Start(task, func(ctx context.Context, tk *model.Task) (interface{}, error) {
		i, err := inputN(tk)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		started[i] = time.Now()
		mu.Unlock()
		return map[string]interface{}{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	var before, after []time.Duration
	watchedAt := -1
	for i := range n {
		time.Sleep(time.Duration(700+(i*137)%300) * time.Millisecond)
		at := time.Now()
		startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"n": i}})
		waitFor(t, 30*time.Second, "pickup", func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			_, ok := started[i]
			return ok, "not yet"
		})
		mu.Lock()
		d := started[i].Sub(at)
		mu.Unlock()
		if watchedAt >= 0 {
			after = append(after, d)
		} else {
			before = append(before, d)
		}
		if watchedAt < 0 && r.Workers()[0].IdleWait == "watch" {
			watchedAt = i
		}
		if watchedAt >= 0 && len(after) >= 10 {
			break
		}
	}
	t.Logf("Conductor %s (store %q): idle wait %q; watched after task %d; pickup before p50/p90 %v/%v (%d tasks), after %v/%v (%d tasks)",
		env.version, os.Getenv("CONDUCTOR_SERVER_STORE"), r.Workers()[0].IdleWait, watchedAt,
		pct(before, 50), pct(before, 90), len(before), pct(after, 50), pct(after, 90), len(after))
	// Several nodes behind a balancer (test/conductor/run.sh with
	// CONDUCTOR_NODES=2) wake a held poll late for a task queued through
	// another node: watching pays there too.
	cluster := os.Getenv("CONDUCTOR_NODES") != "" && os.Getenv("CONDUCTOR_NODES") != "1"
	if (env.version == "3.21" || cluster) && watchedAt < 0 {
		t.Errorf("Conductor %s (nodes %q) does not wake held polls promptly, but after %d isolated tasks the worker still holds or probes", env.version, os.Getenv("CONDUCTOR_NODES"), n)
	}
	if env.version != "3.21" && !cluster && watchedAt >= 0 {
		t.Errorf("Conductor %s wakes held polls, but the runner took it for one that does not (after task %d)", env.version, watchedAt)
	}
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(time.Millisecond)
}
