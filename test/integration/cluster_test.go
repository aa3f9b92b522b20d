package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// Issue 23, point 7: in a cluster (test/conductor/run.sh with
// CONDUCTOR_NODES=2) a held poll on one node should wake for a task
// scheduled through the other. This measures how long that takes, against
// the same node as a control: a held poll on node A, a workflow started on
// node B (or A), the time from sending the start until the poll answers.
// It talks to the nodes directly (CONDUCTOR_NODE_URLS), not through the
// proxy. It runs only with BATON_IT_CLUSTER=1 and asserts no timing: only
// that a server which wakes held polls (3.32) hands the task to the held
// poll, on either node.
func TestClusterHeldPollWakesAcrossNodes(t *testing.T) {
	if os.Getenv("BATON_IT_CLUSTER") == "" {
		t.Skip("set BATON_IT_CLUSTER=1 to run (test/conductor/run.sh with CONDUCTOR_NODES=2)")
	}
	nodes := strings.Fields(os.Getenv("CONDUCTOR_NODE_URLS"))
	if len(nodes) < 2 {
		t.Fatalf("CONDUCTOR_NODE_URLS=%q: want two node URLs (test/conductor/run.sh with CONDUCTOR_NODES=2)", os.Getenv("CONDUCTOR_NODE_URLS"))
	}
	task := uniq("cluster_wake")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 0, ResponseTimeoutSeconds: 300})
	// Metadata is cached per node; give node 2 time to see what node 1 stored.
	time.Sleep(2 * time.Second)

	const reps = 8
	const hold = 3 * time.Second
	type pair struct {
		name        string
		poll, start int
	}
	pairs := []pair{{"A->A", 0, 0}, {"B->A", 0, 1}, {"A->B", 1, 0}, {"B->B", 1, 1}}
	results := map[string][]time.Duration{}
	starts := map[string][]time.Duration{}
	for i := range reps {
		for _, p := range pairs {
			got, woke, took, err := heldPollRace(t, nodes[p.poll], nodes[p.start], task, wfName, hold)
			if err != nil {
				t.Fatalf("%s rep %d: %v", p.name, i, err)
			}
			if !got {
				// 3.21 answers a held poll only at its timeout; take the task off the queue.
				if env.version != "3.21" {
					t.Errorf("%s rep %d: Conductor %s wakes held polls, but the held poll on node %d ended after %v without the task started on node %d",
						p.name, i, env.version, p.poll+1, woke.Round(time.Millisecond), p.start+1)
				}
				drain(t, nodes[0], task)
				continue
			}
			results[p.name] = append(results[p.name], woke)
			starts[p.name] = append(starts[p.name], took)
		}
	}
	for _, p := range pairs {
		ds := results[p.name]
		if len(ds) == 0 {
			t.Logf("Conductor %s: poll held on node %d, workflow started on node %d: woke in 0/%d", env.version, p.poll+1, p.start+1, reps)
			continue
		}
		t.Logf("Conductor %s: poll held on node %d, workflow started on node %d: woke in %d/%d, answered p50/p90/max %v/%v/%v after the start was sent (all: %v; the start call took %v)",
			env.version, p.poll+1, p.start+1, len(ds), reps, pct(ds, 50), pct(ds, 90), pct(ds, 100), roundAll(ds), roundAll(starts[p.name]))
	}
}

// heldPollRace holds a poll for task on pollURL, starts a workflow through
// startURL once the poll is out, and reports whether the poll brought a task
// how long after the start request was sent it answered, and how long the
// start request took.
func heldPollRace(t *testing.T, pollURL, startURL, task, wfName string, hold time.Duration) (bool, time.Duration, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hold+20*time.Second)
	defer cancel()
	type answer struct {
		at    time.Time
		tasks int
		err   error
	}
	done := make(chan answer, 1)
	go func() {
		u := fmt.Sprintf("%s/tasks/poll/batch/%s?count=1&timeout=%d&workerid=cluster-it", pollURL, task, hold.Milliseconds())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := env.hc.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		at := time.Now()
		var tasks []json.RawMessage
		if resp.StatusCode != http.StatusOK {
			done <- answer{err: fmt.Errorf("poll: %s: %s", resp.Status, body)}
			return
		}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &tasks); err != nil {
				done <- answer{err: fmt.Errorf("poll: %v: %s", err, body)}
				return
			}
		}
		done <- answer{at: at, tasks: len(tasks)}
	}()
	time.Sleep(400 * time.Millisecond) // the poll is out and held
	sent := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, startURL+"/workflow/"+wfName, strings.NewReader(`{"n":0}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.hc.Do(req)
	if err != nil {
		return false, 0, 0, fmt.Errorf("start: %v", err)
	}
	took := time.Since(sent)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, 0, 0, fmt.Errorf("start: %s: %s", resp.Status, body)
	}
	a := <-done
	if a.err != nil {
		return false, 0, 0, a.err
	}
	return a.tasks > 0, a.at.Sub(sent), took, nil
}

// drain takes whatever waits in task's queue (a poll without waiting).
func drain(t *testing.T, url, task string) {
	t.Helper()
	for range 3 {
		req, _ := http.NewRequestWithContext(testCtx(t, 10*time.Second), http.MethodGet,
			fmt.Sprintf("%s/tasks/poll/batch/%s?count=10&timeout=0&workerid=cluster-it", url, task), nil)
		resp, err := env.hc.Do(req)
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(body)) != "[]" && len(body) > 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
