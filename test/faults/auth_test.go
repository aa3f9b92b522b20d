package faults

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

const keyID = "faults-key"

// Scenario 4: authentication on, tokens that live 5 s, 3,000 tasks over
// about 25 seconds. No request may fail where the runner can see it (no
// failed poll, no retried update), every task runs once, tokens are refreshed
// (and counted) several times, and the server never sees two token requests
// at once.
func TestShortLivedTokens(t *testing.T) {
	skipShort(t)
	t.Parallel() // own dev server and runner; the suite's wall time is then about its longest scenario
	const tasks, batch = 3000, 5
	// 5 s, not shorter: a request refused for its expired token is re-sent
	// once with a fresh one, and a machine loaded by the rest of make test
	// has stalled a re-sent request past a 2 s life (then the runner sees the
	// refusal, which is what this scenario says must not happen).
	const ttl = 5 * time.Second
	e := newEnv(t, "tokens", conductortest.WithAuth(keyID, keySecret), conductortest.WithTokenTTL(ttl))
	e.define("authed", nil)
	ids := e.start("authed", 0, tasks)
	r := e.runner(e.client(settings.NewAuthenticationSettings(keyID, keySecret)))
	began := time.Now()
	// 40 ms per task at 5 slots: about 24 s of work, several token lifetimes.
	if err := r.Start("authed", e.double(func(context.Context, *model.Task) { time.Sleep(40 * time.Millisecond) }), worker.BatchSize(batch)); err != nil {
		t.Fatal(err)
	}
	e.wait(ids, 3*time.Minute)
	took := time.Since(began)
	e.settle(r)
	rep := e.audit(ids)
	st := e.srv.Stats()
	refreshOK := e.counter("conductor_token_refresh_total", map[string]string{"result": "success"})
	refreshErr := e.counter("conductor_token_refresh_total", map[string]string{"result": "error"})
	t.Logf("scenario 4 (token TTL %s, %d tasks, batch %d, %s): %s; tokens issued %d, refreshes counted %v (failed %v), requests refused for their token %d (re-sent by the client), most token requests in flight at once %d, worker errors %d",
		ttl, tasks, batch, took.Round(time.Millisecond), rep, st.TokensIssued, refreshOK, refreshErr, st.TokensRejected, st.MaxConcurrentTokenRequests, e.probe.workerErrors.Load())

	if rep.Completed != tasks || rep.Duplicates != 0 || rep.Redelivered != 0 || rep.ExtraUpdates != 0 {
		t.Errorf("want every task exactly once: %s", rep)
	}
	if rep.PollErrors != 0 || rep.UpdateRetries != 0 || e.probe.workerErrors.Load() != 0 {
		t.Errorf("token expiry was visible to the runner: %s, worker errors %d", rep, e.probe.workerErrors.Load())
	}
	// The handlers alone keep the run busy for at least tasks*40ms/batch =
	// 24 s of requests, and a token is good for 5 s, so at least 5 tokens
	// were needed; 4 leaves room for one stall of the whole process. Not a
	// bound on the wall clock: a slower run needs more tokens, not fewer.
	if minTokens := int64(4); st.TokensIssued < minTokens {
		t.Errorf("server issued %d tokens over a run of at least 24 s (took %s) with a %s token life, want >= %d", st.TokensIssued, took, ttl, minTokens)
	}
	if refreshOK != float64(st.TokensIssued) || refreshErr != 0 {
		t.Errorf("refresh metric says %v ok / %v failed, the server issued %d tokens", refreshOK, refreshErr, st.TokensIssued)
	}
	if st.MaxConcurrentTokenRequests != 1 {
		t.Errorf("server saw %d token requests in flight at once, want 1", st.MaxConcurrentTokenRequests)
	}
	if tokens.len() == 0 {
		t.Error("no token was recorded for the log scan")
	}
}

// The security side of scenario 4: a key the server refuses. The runner must
// report it (as client.ErrUnauthorized) without the secret in any error or
// log line (the log scan in TestMain covers the lines), take no task, and log
// a bounded number of lines about it.
func TestRefusedKey(t *testing.T) {
	skipShort(t)
	t.Parallel() // own dev server and runner; the suite's wall time is then about its longest scenario
	e := newEnv(t, "refused-key", conductortest.WithAuth(keyID, keySecret))
	e.define("locked", nil)
	ids := e.start("locked", 0, 10)
	var mu sync.Mutex
	var errs []error
	r := e.runner(e.client(settings.NewAuthenticationSettings(keyID, wrongSecret)), worker.WithHooks(worker.Hooks{
		OnWorkerError: func(_ string, err error) {
			errTexts.add(err)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		},
	}))
	if err := r.Start("locked", e.double(nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "three refused polls", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(errs) >= 3
	})
	// A copy: the hook keeps taking the lock until the worker stops.
	mu.Lock()
	seen := append([]error(nil), errs...)
	mu.Unlock()
	for _, err := range seen {
		if !errors.Is(err, client.ErrUnauthorized) {
			t.Errorf("poll error does not match client.ErrUnauthorized: %v", err)
		}
	}
	if st := e.srv.Stats(); st.TasksHandedOut != 0 || st.TokensIssued != 0 {
		t.Errorf("a refused key got %d tokens and %d tasks", st.TokensIssued, st.TasksHandedOut)
	}
	for _, id := range ids {
		if wf, _ := e.srv.Workflow(id); wf.Tasks[0].Status != model.TaskScheduled {
			t.Errorf("task of %s is %s, want SCHEDULED", id, wf.Tasks[0].Status)
		}
	}
	// A refused key cannot fix itself: the worker stops, WaitWorkers returns
	// and Err says why, without the secret.
	stopped := make(chan struct{})
	go func() { r.WaitWorkers(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatalf("the worker with a refused key still polls after 20 s: %+v", r.Workers())
	}
	if err := r.Err(); !errors.Is(err, worker.ErrMisconfigured) || !errors.Is(err, client.ErrUnauthorized) ||
		!strings.Contains(err.Error(), "check the key id and secret") {
		t.Errorf("Err() = %v, want ErrMisconfigured and ErrUnauthorized with the hint", err)
	} else {
		errTexts.add(err)
	}
	mu.Lock()
	n := len(errs)
	mu.Unlock()
	t.Logf("refused key: %d poll errors, then stopped with: %v", n, r.Err())
}
