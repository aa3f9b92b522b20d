package faults

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// externalService stands for a side-effecting API that deduplicates on an
// idempotency key, as payment and messaging APIs do.
type externalService struct {
	mu      sync.Mutex
	calls   map[string]int
	effects int
}

func (s *externalService) call(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls[key] == 0 {
		s.effects++
	}
	s.calls[key]++
}

// A worker crashes after its handlers called an external API and before it
// reported anything. The server's response timeout (2 s here) hands the tasks
// out again as retries; a second worker runs them. The idempotency key the
// handlers read from their context is the same in both runs (same workflow,
// same step), so the external effect happens once per task, and the keys of
// distinct tasks differ.
func TestCrashRedeliveryKeepsIdempotencyKey(t *testing.T) {
	skipShort(t)
	t.Parallel() // own dev server and runner; the suite's wall time is then about its longest scenario
	const tasks = 50
	e := newEnv(t, "crash")
	e.define("fragile", redeliverable())
	ids := e.start("fragile", 0, tasks)
	ext := &externalService{calls: map[string]int{}}
	var mu sync.Mutex
	keyA, keyB := map[string]string{}, map[string]string{} // workflow id -> key seen by each run

	// Run A: calls the API, then hangs until the crash.
	called := make(chan struct{}, tasks)
	crashing := worker.NewTaskRunnerWithApiClient(e.client(nil), worker.WithLogger(e.log))
	err := crashing.Start("fragile", func(ctx context.Context, tk *model.Task) (interface{}, error) {
		key := worker.IdempotencyKey(ctx)
		ext.call(key)
		mu.Lock()
		keyA[tk.WorkflowInstanceId] = key
		mu.Unlock()
		called <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}, worker.BatchSize(tasks))
	if err != nil {
		t.Fatal(err)
	}
	for range tasks {
		select {
		case <-called:
		case <-time.After(time.Minute):
			t.Fatal("run A did not start every task")
		}
	}
	// The crash: shut down with a deadline already past, so nothing more is
	// sent for these tasks (each result is given up, as a dead process would).
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	_ = crashing.Shutdown(dead)
	crashing.WaitWorkers()
	for _, u := range e.srv.Updates("") {
		if !u.ExtendLease {
			t.Fatalf("the crashed run posted a result for task %s: %s", u.TaskId, u.Status)
		}
	}

	// Run B: a fresh worker.
	r := e.runner(e.client(nil))
	err = r.Start("fragile", e.double(func(ctx context.Context, tk *model.Task) {
		key := worker.IdempotencyKey(ctx)
		ext.call(key)
		mu.Lock()
		keyB[tk.WorkflowInstanceId] = key
		mu.Unlock()
	}), worker.BatchSize(10))
	if err != nil {
		t.Fatal(err)
	}
	e.wait(ids, 2*time.Minute)
	e.settle(r)
	rep := e.audit(ids)

	mu.Lock()
	defer mu.Unlock()
	distinct := map[string]bool{}
	for _, id := range ids {
		if keyA[id] == "" || keyA[id] != keyB[id] {
			t.Errorf("workflow %s: key %q before the crash, %q after", id, keyA[id], keyB[id])
		}
		distinct[keyA[id]] = true
	}
	ext.mu.Lock()
	effects, keys := ext.effects, len(ext.calls)
	ext.mu.Unlock()
	t.Logf("crash: %s; external API called %d times with %d distinct keys, %d effects", rep, 2*tasks, keys, effects)
	if rep.Completed != tasks || rep.Redelivered != tasks {
		t.Errorf("want every task re-delivered once and completed: %s", rep)
	}
	if len(distinct) != tasks || effects != tasks {
		t.Errorf("want %d distinct keys and %d effects, got %d keys and %d effects", tasks, tasks, len(distinct), effects)
	}
}
