package worker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// The worker against the dev server in each of the real servers' long-poll
// behaviours, behind a bounded request pool like Tomcat's, with a counting
// proxy in front that sees every request the worker makes.

var serverModes = []string{
	"early",      // 3.32, Redis stores
	"full-batch", // 3.32, SQLite (and Postgres)
	"hold",       // 3.21, Redis queues
}

// requestCounter counts what reaches the server: requests in flight, held
// polls (timeout > 0) in flight, their peaks, and the count asked by each
// held poll.
type requestCounter struct {
	mu                  sync.Mutex
	inFlight, peak      int
	held, heldPeak      int
	heldCounts          []int
	polls, sizeRequests int
}

func (c *requestCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		timeout, _ := strconv.Atoi(r.URL.Query().Get("timeout"))
		isPoll := strings.Contains(r.URL.Path, "/tasks/poll")
		held := isPoll && (timeout > 0 || r.URL.Query().Get("timeout") == "")
		c.mu.Lock()
		c.inFlight++
		c.peak = max(c.peak, c.inFlight)
		if isPoll {
			c.polls++
		}
		if strings.HasSuffix(r.URL.Path, "/tasks/queue/sizes") {
			c.sizeRequests++
		}
		if held {
			c.held++
			c.heldPeak = max(c.heldPeak, c.held)
			n, _ := strconv.Atoi(r.URL.Query().Get("count"))
			c.heldCounts = append(c.heldCounts, n)
		}
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.inFlight--
			if held {
				c.held--
			}
			c.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

func (c *requestCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peak, c.heldPeak, c.heldCounts, c.polls, c.sizeRequests = c.inFlight, c.held, nil, 0, 0
}

type modeEnv struct {
	srv   *conductortest.Server
	count *requestCounter
	api   *client.APIClient
}

func newModeEnv(t testing.TB, mode string, pool int) *modeEnv {
	t.Helper()
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional(), conductortest.WithLongPoll(mode), conductortest.WithMaxConcurrentRequests(pool))
	t.Cleanup(srv.Close)
	c := &requestCounter{}
	front := httptest.NewServer(c.wrap(srv.Handler()))
	t.Cleanup(front.Close)
	api := client.NewAPIClient(nil, settings.NewHttpSettings(front.URL+"/api"))
	t.Cleanup(api.CloseIdleConnections)
	return &modeEnv{srv: srv, count: c, api: api}
}

func (e *modeEnv) runner(t testing.TB, opts ...Option) *TaskRunner {
	t.Helper()
	logger, _ := logtest.NewNullLogger()
	r := NewTaskRunnerWithApiClient(e.api, append([]Option{WithLogger(logger), WithMetrics(nil)}, opts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
		r.WaitWorkers()
	})
	return r
}

func (e *modeEnv) define(t testing.TB, taskTypes ...string) {
	t.Helper()
	for _, tt := range taskTypes {
		if err := e.srv.RegisterTaskDefs(model.TaskDef{Name: tt, ResponseTimeoutSeconds: 60}); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.RegisterWorkflowDef(model.WorkflowDef{Name: tt + "_wf", Version: 1, SchemaVersion: 2,
			Tasks: []model.WorkflowTask{{Name: tt, TaskReferenceName: "t", Type: "SIMPLE"}}}); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *modeEnv) start(t testing.TB, taskType string) string {
	t.Helper()
	id, err := e.srv.StartWorkflow(model.StartWorkflowRequest{Name: taskType + "_wf", Version: 1, Input: map[string]interface{}{}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *modeEnv) waitAll(t testing.TB, ids []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.srv.WaitWorkflows(ctx, ids...); err != nil {
		t.Fatalf("workflows did not complete: %v", err)
	}
	for _, id := range ids {
		if wf, _ := e.srv.Workflow(id); wf.Status != model.WorkflowCompleted {
			t.Fatalf("workflow %s ended %s", id, wf.Status)
		}
	}
}

// TestEveryServerMode runs isolated tasks and a burst in each mode and
// checks what a real server would suffer: no held poll asks for more than
// one task (servers hold a partial batch until the timeout), at most
// heldPollsDefault held polls at once, and the bounded pool never fills.
func TestEveryServerMode(t *testing.T) {
	for _, mode := range serverModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			const pool = 16
			e := newModeEnv(t, mode, pool)
			e.define(t, "m")
			r := e.runner(t)
			if err := r.StartWorker("m", func(*model.Task) (interface{}, error) { return map[string]interface{}{"ok": true}, nil }, 10, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i := 0; i < 15; i++ { // isolated: each meets an idle worker
				time.Sleep(time.Duration(60+17*i%90) * time.Millisecond)
				ids = append(ids, e.start(t, "m"))
			}
			for i := 0; i < 60; i++ { // a burst larger than the batch
				ids = append(ids, e.start(t, "m"))
			}
			e.waitAll(t, ids)
			e.count.mu.Lock()
			defer e.count.mu.Unlock()
			for _, n := range e.count.heldCounts {
				if n != 1 {
					t.Fatalf("a held poll asked for %d tasks; held counts %v", n, e.count.heldCounts)
				}
			}
			if e.count.heldPeak > heldPollsDefault {
				t.Fatalf("%d held polls at once, the bound is %d", e.count.heldPeak, heldPollsDefault)
			}
			if e.count.peak >= pool {
				t.Fatalf("%d requests in flight at once: the server's pool of %d was full", e.count.peak, pool)
			}
		})
	}
}

// TestManyIdleTaskTypesLeaveTheServerFree: 300 idle task types in one
// process must not occupy a real server's request threads (the runner
// used to hold a long poll per type), and the one busy type still runs.
func TestManyIdleTaskTypesLeaveTheServerFree(t *testing.T) {
	for _, mode := range serverModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			const pool, types = 20, 300
			e := newModeEnv(t, mode, pool)
			names := make([]string, types)
			for i := range names {
				names[i] = fmt.Sprintf("idle_%03d", i)
			}
			e.define(t, names...)
			r := e.runner(t)
			for _, n := range names {
				if err := r.StartWorker(n, func(*model.Task) (interface{}, error) { return nil, nil }, 1, 100*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			// Every worker has made its first poll (the start-up burst) and
			// gone idle before the counting starts.
			waitFor(t, 2*time.Minute, "every worker to have polled once", func() bool {
				for _, w := range r.Workers() {
					if w.Polls == 0 {
						return false
					}
				}
				return true
			})
			e.count.reset()
			var ids []string
			for i := 0; i < 5; i++ {
				time.Sleep(200 * time.Millisecond)
				ids = append(ids, e.start(t, names[types/2]))
			}
			e.waitAll(t, ids)
			// The idle runner after the tasks counts too: wait for two more
			// rounds of queue-size checks (the watcher's beat), in which the
			// held polls are renewed, rather than for a stretch of time.
			sizes := func() int {
				e.count.mu.Lock()
				defer e.count.mu.Unlock()
				return e.count.sizeRequests
			}
			after := sizes()
			waitFor(t, time.Minute, "two more rounds of queue-size checks", func() bool { return sizes() >= after+2 })
			e.count.mu.Lock()
			defer e.count.mu.Unlock()
			if e.count.peak > heldPollsDefault+3 {
				t.Fatalf("%d requests in flight at once from %d idle task types; want at most %d held polls and a few quick ones", e.count.peak, types, heldPollsDefault)
			}
			if e.count.heldPeak > heldPollsDefault {
				t.Fatalf("%d held polls at once", e.count.heldPeak)
			}
			if e.count.sizeRequests == 0 {
				t.Fatalf("idle task types were not watched through queue sizes")
			}
		})
	}
}

// BenchmarkDevServerPickup: pickup latency of isolated tasks at batch 10
// with default settings, against the dev server in each long-poll mode.
//
//	go test -run '^$' -bench DevServerPickup -benchtime 30x ./sdk/worker/
func BenchmarkDevServerPickup(b *testing.B) {
	for _, mode := range serverModes {
		b.Run(mode, func(b *testing.B) {
			e := newModeEnv(b, mode, 200)
			e.define(b, "p")
			entered := make(chan time.Time, 1)
			r := e.runner(b)
			if err := r.StartWorker("p", func(*model.Task) (interface{}, error) { entered <- time.Now(); return nil, nil }, 10, 100*time.Millisecond); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				time.Sleep(time.Duration(300+(i*97)%400) * time.Millisecond)
				t0 := time.Now()
				e.start(b, "p")
				lat = append(lat, (<-entered).Sub(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
		})
	}
}
