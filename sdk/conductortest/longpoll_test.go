package conductortest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/internal/devflags"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// remoteLongPoll is the long-poll mode of the remote server, from what
// test/conductor/run.sh exports: Conductor 3.21 with Redis queues holds,
// 3.32 with SQLite (or Postgres) waits for the full batch, 3.32 with Redis
// answers early. ok is false when the server is not one of those.
func remoteLongPoll() (string, bool) {
	version, store := os.Getenv("CONDUCTOR_SERVER_VERSION"), os.Getenv("CONDUCTOR_SERVER_STORE")
	switch {
	case strings.HasPrefix(version, "3.21."):
		return "hold", true
	case strings.HasPrefix(version, "3.32.") && (store == "" || store == "sqlite"):
		return "full-batch", true
	case strings.HasPrefix(version, "3.32.") && store == "redis":
		return "early", true
	}
	return "", false
}

// newModeAPI is newAPI with a dev server in the given long-poll mode; against
// a remote server the test runs only if that server uses the mode. The dev
// server's clock stands still (WithStoppedClock), so that a poll cannot time
// out on its own: woken and timedOut tell the two endings apart without
// looking at a clock.
func newModeAPI(t *testing.T, mode string, opts ...conductortest.Option) *api {
	t.Helper()
	a := newAPI(t, append(opts, conductortest.WithLongPoll(mode), conductortest.WithStoppedClock())...)
	if a.remote {
		got, ok := remoteLongPoll()
		if !ok {
			t.Skipf("long-poll mode of the remote server unknown (CONDUCTOR_SERVER_VERSION=%q CONDUCTOR_SERVER_STORE=%q)",
				os.Getenv("CONDUCTOR_SERVER_VERSION"), os.Getenv("CONDUCTOR_SERVER_STORE"))
		}
		if got != mode {
			t.Skipf("the remote server long-polls in the %s mode, not %s", got, mode)
		}
	}
	return a
}

type pollResult struct {
	tasks   []model.Task
	elapsed time.Duration // from sending the poll to its answer (remote checks)
	// advanced is how many times timedOut had moved the dev server's clock
	// when the answer arrived.
	advanced int64
	err      error
}

// pollAsync sends a batch poll in the background. The answer comes on the
// channel; the client's 30 s timeout bounds the wait.
func (a *api) pollAsync(taskType, query string) <-chan pollResult {
	ch := make(chan pollResult, 1)
	go func() {
		t0 := time.Now()
		res, err := a.client.Get(a.base + "/tasks/poll/batch/" + taskType + "?" + query)
		if err != nil {
			ch <- pollResult{err: err}
			return
		}
		defer res.Body.Close()
		r := pollResult{advanced: a.advanced.Load()}
		if res.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(res.Body)
			r.err = fmt.Errorf("status %d: %s", res.StatusCode, body)
		} else {
			r.err = jsonDecode(res.Body, &r.tasks)
		}
		r.elapsed = time.Since(t0)
		ch <- r
	}()
	return ch
}

// awaitPoll waits for a poll's answer, for at most 30 s.
func awaitPoll(t *testing.T, ch <-chan pollResult) pollResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("poll: %v", r.err)
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("poll did not answer within 30 s")
		return pollResult{}
	}
}

// woken waits for the answer of a poll that a task must wake before its
// timeout. The dev server's clock stands still (newModeAPI), so there the
// poll cannot have timed out: any answer is a wake-up. A real server's clock
// runs, so there the answer must come before the timeout.
func (a *api) woken(t *testing.T, ch <-chan pollResult) pollResult {
	t.Helper()
	r := awaitPoll(t, ch)
	if a.remote && r.elapsed >= lpTimeout {
		t.Fatalf("answered with %d tasks after %v: at the %v timeout, not woken", len(r.tasks), r.elapsed, lpTimeout)
	}
	return r
}

// timedOut waits for the answer of a poll that must wait out its whole
// timeout. On the dev server it moves the stopped clock past the timeout,
// and the answer must have come after that; a real server must not answer
// before the timeout.
func (a *api) timedOut(t *testing.T, ch <-chan pollResult) pollResult {
	t.Helper()
	if a.remote {
		r := awaitPoll(t, ch)
		if r.elapsed < lpTimeout {
			t.Fatalf("answered with %d tasks after %v, before the %v timeout", len(r.tasks), r.elapsed, lpTimeout)
		}
		return r
	}
	a.advanced.Add(1)
	a.srv.Advance(lpTimeout)
	r := awaitPoll(t, ch)
	if r.advanced == 0 {
		t.Fatalf("answered with %d tasks before its timeout (the server's clock had not moved)", len(r.tasks))
	}
	return r
}

// parked waits until n polls wait on the queue of taskType. The dev server
// says so; a remote server cannot, so there the test gives the request a
// second to arrive (its poll lasts several).
func (a *api) parked(t *testing.T, taskType string, n int) {
	t.Helper()
	if a.remote {
		time.Sleep(time.Second)
		return
	}
	waitFor(t, fmt.Sprintf("%d polls parked on %s", n, taskType), func() bool { return a.srv.Waiting(taskType, "") >= n })
}

// startN starts n workflows of one task of type taskType (defined by wf).
func (a *api) startN(wf string, n int) {
	for range n {
		a.start(wf, nil)
	}
}

// The timeout of the polls below. The dev server's clock stands still, so it
// only says how far timedOut advances it. A remote server's runs: there it
// is long enough that "answered before the timeout" means woken even though
// parked can only wait a second, and the slowest subtest lasts about that
// long.
var lpTimeout = func() time.Duration {
	if os.Getenv(envTarget) == "remote" {
		return 4 * time.Second
	}
	return 1500 * time.Millisecond
}()

var lpQuery = fmt.Sprintf("timeout=%d&workerid=lp", lpTimeout.Milliseconds())

var allModes = []string{"early", "full-batch", "hold"}

// A poll for one task on an empty queue; a task is scheduled during the
// wait. Early and full-batch wake for it; hold does not, and the task stays
// queued for the next poll.
func TestLongPollTaskArrivesDuringWait(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a := newModeAPI(t, mode)
			tt := a.name("lp_arrive")
			wf := a.oneTask(tt)
			ch := a.pollAsync(tt, "count=1&"+lpQuery)
			a.parked(t, tt, 1)
			a.start(wf, nil)
			switch mode {
			case "hold":
				if r := a.timedOut(t, ch); len(r.tasks) != 0 {
					t.Fatalf("hold: got %d tasks at the timeout, want 0", len(r.tasks))
				}
				if got := a.pollBatch(tt, "count=1&timeout=0"); len(got) != 1 {
					t.Fatalf("the task that arrived during the hold was not left queued: next poll got %d", len(got))
				}
			default:
				if r := a.woken(t, ch); len(r.tasks) != 1 {
					t.Fatalf("%s: got %d tasks, want the new one", mode, len(r.tasks))
				}
			}
		})
	}
}

// A poll for three tasks finds one; another is scheduled during the wait.
// Early answers at once with the one; full-batch takes the second as it
// comes and answers with both at the timeout; hold answers with the first
// at the timeout and leaves the second queued.
func TestLongPollPartialBatch(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a := newModeAPI(t, mode)
			tt := a.name("lp_partial")
			wf := a.oneTask(tt)
			a.start(wf, nil)
			ch := a.pollAsync(tt, "count=3&"+lpQuery)
			if mode == "early" {
				if r := a.woken(t, ch); len(r.tasks) != 1 {
					t.Fatalf("early: got %d tasks, want 1 at once", len(r.tasks))
				}
				return
			}
			a.parked(t, tt, 1)
			a.start(wf, nil)
			r := a.timedOut(t, ch) // the batch is never full
			left := a.pollBatch(tt, "count=3&timeout=0")
			switch mode {
			case "full-batch":
				if len(r.tasks) != 2 || len(left) != 0 {
					t.Fatalf("full-batch: got %d tasks (%d left queued), want both, taken as they came", len(r.tasks), len(left))
				}
			case "hold":
				if len(r.tasks) != 1 || len(left) != 1 {
					t.Fatalf("hold: got %d tasks (%d left queued), want the one there at the start, and the other left", len(r.tasks), len(left))
				}
			}
		})
	}
}

// A poll for two tasks on an empty queue; both are scheduled during the
// wait. Full-batch answers once it holds both, before the timeout.
func TestLongPollBatchFilledDuringWait(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a := newModeAPI(t, mode)
			tt := a.name("lp_fill")
			wf := a.oneTask(tt)
			ch := a.pollAsync(tt, "count=2&"+lpQuery)
			a.parked(t, tt, 1)
			a.startN(wf, 2)
			switch mode {
			case "early":
				// It may wake for the first before the second exists.
				if n := len(a.woken(t, ch).tasks); n < 1 {
					t.Fatalf("early: got %d tasks, want an answer before the timeout", n)
				}
			case "full-batch":
				if n := len(a.woken(t, ch).tasks); n != 2 {
					t.Fatalf("full-batch: got %d tasks, want 2 before the timeout", n)
				}
			case "hold":
				if n := len(a.timedOut(t, ch).tasks); n != 0 {
					t.Fatalf("hold: got %d tasks, want 0 after the whole timeout", n)
				}
			}
		})
	}
}

// In every mode a poll that finds count tasks, or has timeout 0, answers at
// once with what is there.
func TestLongPollAnswersAtOnceWhenItCan(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a := newModeAPI(t, mode)
			tt := a.name("lp_now")
			wf := a.oneTask(tt)
			a.startN(wf, 4)
			if r := a.woken(t, a.pollAsync(tt, "count=2&"+lpQuery)); len(r.tasks) != 2 {
				t.Fatalf("full batch available: got %d tasks, want 2 at once", len(r.tasks))
			}
			if r := a.woken(t, a.pollAsync(tt, "count=5&timeout=0")); len(r.tasks) != 2 {
				t.Fatalf("timeout 0: got %d tasks, want the 2 left at once", len(r.tasks))
			}
		})
	}
}

// In the 3.21 profile a poll that ends early because its client went away
// gives back the tasks it had taken (full-batch and hold take them before
// answering). The 3.32 profile serves it to its end instead (see
// TestAbandonedHeldPollTakesTheNextTask).
func TestLongPollCancelledGivesTasksBack(t *testing.T) {
	for _, mode := range []string{"full-batch", "hold"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a := newModeAPI(t, mode, conductortest.WithVersion(conductortest.Version321))
			a.needLocal("the real server hands taken tasks to the closed connection")
			tt := a.name("lp_cancel")
			a.startN(a.oneTask(tt), 2)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, "GET", a.base+"/tasks/poll/batch/"+tt+"?count=5&"+lpQuery, nil)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				res, err := a.client.Do(req)
				if err == nil {
					res.Body.Close()
				}
				done <- err
			}()
			a.parked(t, tt, 1)
			if n := a.queueSize(tt); n != 0 {
				t.Fatalf("queue size %d while the poll holds both tasks", n)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("cancelled poll did not end")
			}
			a.eventually("tasks back in the queue", 10*time.Second, func() bool { return a.queueSize(tt) == 2 })
			if got := a.pollBatch(tt, "count=5&timeout=0"); len(got) != 2 {
				t.Fatalf("next poll got %d tasks, want the 2 given back", len(got))
			}
		})
	}
}

// GET /tasks/queue/sizes answers for many task types at once in every mode,
// and "domain:taskType" names a task type's queue in a domain.
func TestQueueSizesManyTypesAndDomains(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a := newModeAPI(t, mode)
			tt, idle := a.name("qs_task"), a.name("qs_idle")
			wf := a.oneTask(tt)
			a.startN(wf, 2)
			a.expect(200, "POST", "/workflow", model.StartWorkflowRequest{Name: wf, Input: map[string]any{},
				TaskToDomain: map[string]string{tt: "blue"}})
			held := a.pollAsync(idle, "count=1&"+lpQuery) // a waiting poll changes nothing
			a.parked(t, idle, 1)
			var sizes map[string]int
			a.expect(200, "GET", "/tasks/queue/sizes?taskType="+tt+"&taskType=blue:"+tt+"&taskType="+idle+"&taskType=red:"+tt, nil).json(t, &sizes)
			want := map[string]int{tt: 2, "blue:" + tt: 1, idle: 0, "red:" + tt: 0}
			for k, v := range want {
				if got, ok := sizes[k]; !ok || got != v {
					t.Errorf("size of %s: %d (present %v), want %d; all: %v", k, got, ok, v, sizes)
				}
			}
			if len(sizes) != len(want) {
				t.Errorf("sizes %v, want exactly the 4 asked for", sizes)
			}
			if a.srv != nil {
				a.srv.Advance(lpTimeout) // the clock stands still
			}
			awaitPoll(t, held)
		})
	}
}

// With WithMaxConcurrentRequests(2) and two long polls waiting, a third
// request waits for one of them to end; without a limit it does not.
func TestMaxConcurrentRequests(t *testing.T) {
	for _, limit := range []int{2, 0} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			t.Parallel()
			// The clock stands still: the two polls cannot time out and
			// free their slots early, however slow the machine.
			a := newAPI(t, conductortest.WithLongPoll("early"), conductortest.WithMaxConcurrentRequests(limit),
				conductortest.WithStoppedClock())
			a.needLocal("an option")
			tt := a.name("pool")
			wf := a.oneTask(tt)
			p1 := a.pollAsync(tt, "count=1&timeout=5000")
			p2 := a.pollAsync(tt, "count=1&timeout=5000")
			a.parked(t, tt, 2)
			third := make(chan int, 1)
			go func() {
				res, err := a.client.Get(a.base + "/tasks/queue/size?taskType=" + tt)
				if err != nil {
					third <- 0
					return
				}
				res.Body.Close()
				third <- res.StatusCode
			}()
			if limit == 0 {
				select {
				case code := <-third:
					if code != 200 {
						t.Fatalf("third request: status %d", code)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("without a limit the third request waited for the polls")
				}
				a.startN(wf, 2)
				awaitPoll(t, p1)
				awaitPoll(t, p2)
				return
			}
			waitFor(t, "the third request to wait for a slot", func() bool { return a.srv.SlotWaiters() == 1 })
			select {
			case code := <-third:
				t.Fatalf("third request answered (status %d) while two polls held both slots", code)
			default:
			}
			if st := a.srv.Stats(); st.Polls != 2 {
				t.Fatalf("server saw %d polls, want 2", st.Polls)
			}
			// A task for one of the polls (scheduled through the Go API: a
			// request would wait for a slot too) ends it and frees a slot.
			startDirect(t, a, wf)
			select {
			case code := <-third:
				if code != 200 {
					t.Fatalf("third request: status %d", code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("third request still waiting after a poll ended")
			}
			startDirect(t, a, wf)
			awaitPoll(t, p1)
			awaitPoll(t, p2)
		})
	}
}

func startDirect(t *testing.T, a *api, wf string) {
	t.Helper()
	if _, err := a.srv.StartWorkflow(model.StartWorkflowRequest{Name: wf, Input: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
}

// The long-poll modes are named the same by WithLongPoll and by
// cmd/conductor-dev's -long-poll (devflags), and an unknown name is an error
// that names it in both.
func TestLongPollModeNames(t *testing.T) {
	for _, mode := range append(allModes, "default", "") {
		if mode != "" {
			if got, err := devflags.ParseLongPollMode(mode); err != nil || got != mode {
				t.Errorf("ParseLongPollMode(%q) = %q, %v", mode, got, err)
			}
		}
		srv, err := conductortest.Start(conductortest.WithLongPoll(mode))
		if err != nil {
			t.Errorf("WithLongPoll(%q): %v", mode, err)
			continue
		}
		srv.Close()
	}
	if _, err := devflags.ParseLongPollMode("eager"); err == nil || !strings.Contains(err.Error(), `"eager"`) {
		t.Errorf("bad name: error %v, want one naming the value", err)
	}
	if _, err := conductortest.Start(conductortest.WithLongPoll("eager")); err == nil || !strings.Contains(err.Error(), `long-poll mode "eager"`) {
		t.Errorf("bad mode: error %v, want one naming the value", err)
	}
	if _, err := conductortest.Start(conductortest.WithMaxConcurrentRequests(-1)); err == nil || !strings.Contains(err.Error(), "-1") {
		t.Errorf("negative limit: error %v, want one naming the value", err)
	}
}

// A held poll whose client went away: Conductor 3.32 keeps serving it and
// starts the next task of its type for the departed worker, where the task
// waits out its response timeout (a worker that abandons a held poll, on
// shutdown or on a crash, swallows a task); 3.21's queue never wakes a held
// poll for one task, so the task stays queued for the next worker.
func TestAbandonedHeldPollTakesTheNextTask(t *testing.T) {
	a := newAPI(t)
	tt := a.name("lp_abandon")
	wf := a.oneTask(tt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+"/tasks/poll/batch/"+tt+"?count=1&timeout=4000&workerid=gone", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := a.client.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	a.parked(t, tt, 1)
	cancel()
	<-done
	if a.srv != nil && !a.is321() {
		// The poll must still be parked, or the task below would find
		// nobody; the dev server says when it is.
		waitFor(t, "the abandoned poll still parked", func() bool { return a.srv.Waiting(tt, "") == 1 })
	}
	id := a.start(wf, nil)
	if a.is321() {
		if a.remote {
			time.Sleep(5 * time.Second) // past the abandoned poll's timeout
		}
		if n := a.queueSize(tt); n != 1 {
			t.Fatalf("3.21: queue size %d after an abandoned held poll, want the task still queued", n)
		}
		return
	}
	var tk model.Task
	a.eventually("the task started for the departed worker", 10*time.Second, func() bool {
		wfl := a.workflow(id)
		if len(wfl.Tasks) == 0 {
			return false
		}
		tk = wfl.Tasks[0]
		return tk.Status == model.TaskInProgress
	})
	if tk.WorkerId != "gone" {
		t.Fatalf("task %s IN_PROGRESS for worker %q, want the abandoned poll's %q", tk.TaskId, tk.WorkerId, "gone")
	}
	if n := a.queueSize(tt); n != 0 {
		t.Fatalf("queue size %d, want 0: the abandoned poll took the task", n)
	}
}
