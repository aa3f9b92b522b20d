package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/baton-go/baton/internal/memhttp"
	"github.com/baton-go/baton/internal/retry"
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// memServer is a Conductor stand-in behind an in-process transport (no
// sockets, so it also runs inside synctest bubbles): handle decides each
// answer; every result posted is recorded and announced on results.
type memServer struct {
	mu      sync.Mutex
	handle  func(r *http.Request, body []byte) (int, string)
	posted  []model.TaskResult
	results chan model.TaskResult
}

func newMemServer(handle func(r *http.Request, body []byte) (int, string)) *memServer {
	return &memServer{handle: handle, results: make(chan model.TaskResult, 1000)}
}

func (m *memServer) RoundTrip(r *http.Request) (*http.Response, error) {
	return memhttp.Transport(m.answer).RoundTrip(r)
}

func (m *memServer) answer(r *http.Request, body []byte) (int, string, []byte) {
	status, answer := m.handle(r, body)
	if r.Method == http.MethodPost && (r.URL.Path == "/api/tasks" || r.URL.Path == "/api/tasks/update-v2") && status < 300 {
		var res model.TaskResult
		if err := json.Unmarshal(body, &res); err == nil && !res.ExtendLease {
			m.mu.Lock()
			m.posted = append(m.posted, res)
			m.mu.Unlock()
			m.results <- res
		}
	}
	if strings.HasPrefix(answer, "<") {
		return status, "text/html", []byte(answer)
	}
	return status, "application/json", []byte(answer)
}

func (m *memServer) client(t *testing.T, auth *settings.AuthenticationSettings) *client.APIClient {
	t.Helper()
	c, err := client.New(auth, settings.NewHttpSettings("http://conductor.test/api"), client.WithHTTPClient(&http.Client{Transport: m}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOneUndecodableTaskDoesNotLoseTheBatch is point 4 of issue 24: a poll
// answer of ten tasks, one with a 400-digit integer in its input (Jackson
// keeps it as a BigInteger; Go's float64 cannot hold it). Before, the whole
// answer failed to decode and all ten tasks sat IN_PROGRESS on the server
// until their response timeout; now nine run and the tenth is failed at
// once, terminally, with a reason that names the field.
func TestOneUndecodableTaskDoesNotLoseTheBatch(t *testing.T) {
	synctest.Test(t, oneUndecodableTask)
}

func oneUndecodableTask(t *testing.T) {
	var polled sync.Once
	srv := newMemServer(func(r *http.Request, _ []byte) (int, string) {
		if strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/") {
			answer := "[]"
			polled.Do(func() {
				var tasks []string
				for i := 0; i < 10; i++ {
					input := fmt.Sprintf(`{"i":%d}`, i)
					if i == 4 {
						input = `{"i":4,"order":{"amount":` + strings.Repeat("9", 400) + `}}`
					}
					tasks = append(tasks, fmt.Sprintf(`{"taskId":"t%d","workflowInstanceId":"w%d","taskType":"greet","status":"IN_PROGRESS","inputData":%s}`, i, i, input))
				}
				answer = "[" + strings.Join(tasks, ",") + "]"
			})
			return 200, answer
		}
		return 200, ""
	})
	r := NewTaskRunnerWithApiClient(srv.client(t, nil), WithLogger(quietLogger()), WithMetrics(NopRecorder{}))
	var mu sync.Mutex
	ran := map[string]bool{}
	if err := r.StartWorker("greet", func(task *model.Task) (interface{}, error) {
		mu.Lock()
		ran[task.TaskId] = true
		mu.Unlock()
		return map[string]interface{}{"i": task.InputData["i"]}, nil
	}, 10, 10e6); err != nil {
		t.Fatal(err)
	}
	got := map[string]model.TaskResult{}
	for len(got) < 10 {
		select {
		case res := <-srv.results:
			got[res.TaskId] = res
		case <-time.After(10 * time.Minute):
			t.Fatalf("only %d of 10 results posted within 10 simulated minutes: %v", len(got), got)
		}
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.WaitWorkers()
	for i := 0; i < 10; i++ {
		res := got[fmt.Sprintf("t%d", i)]
		if i == 4 {
			if res.Status != model.FailedWithTerminalErrorTask || !strings.Contains(res.ReasonForIncompletion, "inputData.order.amount") {
				t.Errorf("the undecodable task was reported %s with reason %q; want FAILED_WITH_TERMINAL_ERROR naming inputData.order.amount", res.Status, res.ReasonForIncompletion)
			}
			if ran["t4"] {
				t.Error("the handler ran the undecodable task")
			}
			continue
		}
		if res.Status != model.CompletedTask || !ran[res.TaskId] {
			t.Errorf("task t%d: status %s, ran %v; want COMPLETED by the handler", i, res.Status, ran[res.TaskId])
		}
	}
	if s := r.Workers()[0]; s.Failures != 1 {
		t.Errorf("Workers().Failures = %d, want 1", s.Failures)
	}
}

// waitOrTimeout waits for ch in the synctest bubble's fake time: d is a
// bound on simulated time, so the outcome does not depend on the machine.
func waitOrTimeout(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not within %s (simulated time)", what, d)
	}
}

// pollOnce answers the first poll with tasks (as JSON objects) and every
// later one with an empty list.
func pollOnce(tasks ...string) func() string {
	var once sync.Once
	return func() string {
		answer := "[]"
		once.Do(func() { answer = "[" + strings.Join(tasks, ",") + "]" })
		return answer
	}
}

func taskJSON(id string) string {
	return fmt.Sprintf(`{"taskId":%q,"workflowInstanceId":"wf-%s","taskType":"greet","status":"IN_PROGRESS","inputData":{}}`, id, id)
}

// TestResultRefusedWithRetryableFalseIsGivenUp is point 1 of issue 24: a
// result Conductor answers with 500 and "retryable": false (an exception
// it did not map, e.g. a body it cannot read) used to be retried until the
// shutdown deadline, holding its slot. Now it is given up after a bounded
// number of attempts: logged, counted, handed to the hook, slot freed. A
// 500 with "retryable": true (a TransientException) is still retried until
// it is accepted.
func TestResultRefusedWithRetryableFalseIsGivenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		posts := map[string]int{}
		poll := pollOnce(taskJSON("never"), taskJSON("later"))
		srv := newMemServer(func(r *http.Request, body []byte) (int, string) {
			switch {
			case strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/"):
				return 200, poll()
			case r.URL.Path == "/api/tasks":
				var res model.TaskResult
				_ = json.Unmarshal(body, &res)
				mu.Lock()
				defer mu.Unlock()
				posts[res.TaskId]++
				if res.TaskId == "never" {
					return 500, `{"status":500,"message":"Cannot deserialize value","instance":"h","retryable":false}`
				}
				if posts[res.TaskId] <= 20 {
					return 500, `{"status":500,"message":"store busy","instance":"h","retryable":true}`
				}
				return 200, res.TaskId
			}
			return 404, ""
		})
		gaveUp := make(chan struct{})
		var gaveUpErr error
		r := NewTaskRunnerWithApiClient(srv.client(t, nil), WithLogger(quietLogger()), WithMetrics(NopRecorder{}),
			WithHooks(Hooks{OnUpdateGaveUp: func(res *model.TaskResult, err error) {
				if res.TaskId == "never" {
					gaveUpErr = err
					close(gaveUp)
				}
			}}))
		if err := r.StartWorker("greet", func(*model.Task) (interface{}, error) { return nil, nil }, 2, time.Second); err != nil {
			t.Fatal(err)
		}
		waitOrTimeout(t, gaveUp, 10*time.Minute, "the result refused with retryable:false was not given up")
		res := <-srv.results // "later", accepted on its 21st attempt
		if res.TaskId != "later" {
			t.Fatalf("accepted %s, want later", res.TaskId)
		}
		synctest.Wait()
		mu.Lock()
		never := posts["never"]
		mu.Unlock()
		if never != retry.FewAttempts {
			t.Errorf("the refused result was posted %d times, want %d", never, retry.FewAttempts)
		}
		if !strings.Contains(gaveUpErr.Error(), "Cannot deserialize value") {
			t.Errorf("give-up error %q does not carry the server's message", gaveUpErr)
		}
		s := r.Workers()[0]
		if s.UpdateGiveUps != 1 || s.SlotsInUse != 0 {
			t.Errorf("give-ups %d, slots in use %d; want 1 and 0", s.UpdateGiveUps, s.SlotsInUse)
		}
		if err := r.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.WaitWorkers()
	})
}

// authServer is a Conductor with authentication whose key can be revoked
// and restored: while revoked, /token and every request answer 401.
type authServer struct {
	*memServer
	revoked func(now time.Time) bool
}

func newAuthServer(revoked func(now time.Time) bool, poll func() string) *authServer {
	a := &authServer{revoked: revoked}
	a.memServer = newMemServer(func(r *http.Request, body []byte) (int, string) {
		if a.revoked(time.Now()) {
			return 401, `{"status":401,"message":"Unauthorized","error":"INVALID_TOKEN"}`
		}
		switch {
		case r.URL.Path == "/api/token":
			return 200, `{"token":"tok"}`
		case strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/"):
			return 200, poll()
		case r.URL.Path == "/api/tasks":
			return 200, "id"
		}
		return 404, ""
	})
	return a
}

// TestRevokedKeyEndsWaitWorkers is point 2 of issue 24: the key is
// revoked while tasks run. Their results keep getting 401, and before, a
// result retried through 401 for ever: with batch 2 the poller stopped but
// WaitWorkers never returned; with batch 1 the poller waited for that slot
// and never noticed, so Err() stayed nil. Now results count toward the same
// evidence rule as polls: the worker stops, its results are given up,
// WaitWorkers returns, Err() says why, and the readiness probe answers 503
// with the reason.
func TestRevokedKeyEndsWaitWorkers(t *testing.T) {
	for _, batch := range []int{1, 2} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var revoked atomic.Bool
				srv := newAuthServer(func(time.Time) bool { return revoked.Load() }, pollOnce(taskJSON("a"), taskJSON("b")))
				var gaveUp atomic.Int32
				r := NewTaskRunnerWithApiClient(srv.client(t, settings.NewAuthenticationSettings("key", "secret")),
					WithLogger(quietLogger()), WithMetrics(NopRecorder{}),
					WithHooks(Hooks{OnUpdateGaveUp: func(*model.TaskResult, error) { gaveUp.Add(1) }}))
				if err := r.StartWorker("greet", func(*model.Task) (interface{}, error) {
					revoked.Store(true) // the key is revoked while the task runs
					return nil, nil
				}, batch, time.Second); err != nil {
					t.Fatal(err)
				}
				done := make(chan struct{})
				go func() { r.WaitWorkers(); close(done) }()
				waitOrTimeout(t, done, 10*time.Minute, "WaitWorkers did not return after the key was revoked")
				if !errors.Is(r.Err(), ErrMisconfigured) || !errors.Is(r.Err(), client.ErrUnauthorized) {
					t.Errorf("Err() = %v, want a misconfiguration wrapping the 401", r.Err())
				}
				if gaveUp.Load() < 1 {
					t.Error("no result was given up")
				}
				rec := httptest.NewRecorder()
				r.StatusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
				if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "refused") {
					t.Errorf("status %d %s; want 503 with the reason", rec.Code, rec.Body.String())
				}
				if s := r.Workers()[0]; s.SlotsInUse != 0 || s.Ready || s.StoppedReason == "" {
					t.Errorf("worker status %+v; want no slot in use, not ready, a reason", s)
				}
				_ = r.Shutdown(context.Background())
			})
		})
	}
}

// TestShortAuthOutageDoesNotStopTheWorker is point 3 of issue 24: a
// 7-second streak of 401 answers (an identity provider restarting, a key
// rotation) used to stop the worker for good, while the readiness probe
// kept answering 200. Now a streak that short never stops a worker: a task
// queued after it runs.
func TestShortAuthOutageDoesNotStopTheWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var queued atomic.Bool
		srv := newAuthServer(func(now time.Time) bool {
			d := now.Sub(start)
			return d >= time.Second && d < 8*time.Second
		}, func() string {
			if queued.Swap(false) {
				return "[" + taskJSON("after") + "]"
			}
			return "[]"
		})
		r := NewTaskRunnerWithApiClient(srv.client(t, settings.NewAuthenticationSettings("key", "secret")),
			WithLogger(quietLogger()), WithMetrics(NopRecorder{}), WithPollTimeout(0))
		if err := r.StartWorker("greet", func(*model.Task) (interface{}, error) { return nil, nil }, 1, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Second) // the outage is over
		queued.Store(true)
		got := make(chan struct{})
		go func() { <-srv.results; close(got) }()
		waitOrTimeout(t, got, 5*time.Minute, "the task queued after a 7 s auth outage did not run")
		if err := r.Err(); err != nil {
			t.Errorf("Err() = %v after a short outage, want nil", err)
		}
		rec := httptest.NewRecorder()
		r.StatusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("readiness %d %s, want 200", rec.Code, rec.Body.String())
		}
		if err := r.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.WaitWorkers()
	})
}

// TestFailedUpdateV2IsResentAsAPlainUpdate is point 5 of issue 24 for the
// worker: an update-v2 post that failed ambiguously (502: a proxy lost the
// answer, the post may have been applied and handed out the next task) was
// resent as update-v2, taking another task off the queue each time. Now
// the result goes again as a plain update, harmless to repeat.
func TestFailedUpdateV2IsResentAsAPlainUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls []string
		poll := pollOnce(taskJSON("a"), taskJSON("b"))
		srv := newMemServer(func(r *http.Request, body []byte) (int, string) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/"):
				return 200, poll()
			case r.URL.Path == "/api/tasks/update-v2":
				calls = append(calls, "v2")
				return 502, "<html>bad gateway</html>"
			case r.URL.Path == "/api/tasks":
				calls = append(calls, "plain")
				return 200, "id"
			}
			return 404, ""
		})
		r := NewTaskRunnerWithApiClient(srv.client(t, nil), WithLogger(quietLogger()), WithMetrics(NopRecorder{}), WithUpdateV2(true))
		if err := r.StartWorker("greet", func(*model.Task) (interface{}, error) { return nil, nil }, 2, time.Second); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			select {
			case <-srv.results:
			case <-time.After(10 * time.Minute):
				t.Fatal("the two results were not posted within 10 simulated minutes")
			}
		}
		if err := r.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.WaitWorkers()
		mu.Lock()
		defer mu.Unlock()
		v2 := 0
		for _, c := range calls {
			if c == "v2" {
				v2++
			}
		}
		if v2 > 2 || len(calls)-v2 != 2 {
			t.Errorf("calls %v: want at most one update-v2 per result, then one plain update each", calls)
		}
	})
}
