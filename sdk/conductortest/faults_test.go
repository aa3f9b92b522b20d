package conductortest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

func TestInjectedErrors(t *testing.T) {
	a := newAPI(t)
	a.needLocal("fault injection")
	a.srv.SetFaults(conductortest.Faults{"poll": {ErrorRate: 1, Statuses: []int{429}, RetryAfter: 1500 * time.Millisecond}})
	r := a.expect(429, "GET", "/tasks/poll/batch/x?timeout=0", nil)
	if r.header.Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q, want 2 (rounded up)", r.header.Get("Retry-After"))
	}
	if e := r.errBody(t); e.Status != 429 {
		t.Fatalf("body %+v", e)
	}
	// Other groups are untouched; the poll was not processed.
	a.expect(200, "GET", "/metadata/taskdefs", nil)
	var pd []model.PollData
	a.expect(200, "GET", "/tasks/queue/polldata/all", nil).json(t, &pd)
	if len(pd) != 0 {
		t.Fatalf("a refused poll was recorded: %+v", pd)
	}
	// "" applies to every group without its own entry.
	a.srv.SetFaults(conductortest.Faults{"": {ErrorRate: 1, Statuses: []int{502}}})
	a.expect(502, "GET", "/metadata/taskdefs", nil)
	a.srv.ClearFaults()
	a.expect(200, "GET", "/metadata/taskdefs", nil)
	if st := a.srv.Stats(); st.InjectedErrors != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestErrorRateIsAProbability(t *testing.T) {
	a := newAPI(t)
	a.needLocal("fault injection")
	a.srv.SetFaults(conductortest.Faults{"task": {ErrorRate: 0.5, Statuses: []int{500, 503}}})
	counts := map[int]int{}
	for range 200 {
		counts[a.do("GET", "/tasks/queue/all", nil).status]++
	}
	// With p = 0.5 over 200 requests, all-or-nothing outcomes are
	// astronomically unlikely; both error statuses appear.
	if counts[200] == 0 || counts[500] == 0 || counts[503] == 0 || counts[200]+counts[500]+counts[503] != 200 {
		t.Fatalf("status counts %v", counts)
	}
}

func TestDroppedUpdateStillLands(t *testing.T) {
	a := newAPI(t)
	a.needLocal("fault injection")
	a.registerWorkflow(simpleWorkflow("one", "drop_task"))
	id := a.start("one", nil)
	task := a.pollOne("drop_task")
	a.srv.SetFaults(conductortest.Faults{"update": {DropRate: 1}})
	body := `{"workflowInstanceId":"` + id + `","taskId":"` + task.TaskId + `","status":"COMPLETED"}`
	req, _ := http.NewRequest("POST", a.base+"/tasks", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if res, err := a.client.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("dropped update answered %d", res.StatusCode)
	}
	if wf := a.workflow(id); wf.Status != model.WorkflowCompleted {
		t.Fatalf("update did not land: workflow %s", wf.Status)
	}
	// The client's retry is harmless and counted.
	a.srv.ClearFaults()
	a.expect(200, "POST", "/tasks", body)
	if n := len(a.srv.Updates(task.TaskId)); n != 2 {
		t.Fatalf("%d updates recorded, want 2", n)
	}
	if st := a.srv.Stats(); st.UpdatesToTerminal != 1 {
		t.Fatalf("stats %+v", st)
	}
	if st := a.srv.Stats(); st.DroppedAnswers != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Updates("") lists the updates of every task, grouped by task id.
func TestUpdatesOfEveryTask(t *testing.T) {
	a := newAPI(t)
	a.needLocal("introspection")
	a.registerWorkflow(simpleWorkflow("one", "ups_task"))
	a.start("one", nil)
	a.start("one", nil)
	var taskIDs []string
	for range 2 {
		tk := a.pollOne("ups_task")
		a.expect(200, "POST", "/tasks", `{"workflowInstanceId":"`+tk.WorkflowInstanceId+`","taskId":"`+tk.TaskId+`","status":"COMPLETED"}`)
		taskIDs = append(taskIDs, tk.TaskId)
	}
	slices.Sort(taskIDs)
	all := a.srv.Updates("")
	if len(all) != 2 || all[0].TaskId != taskIDs[0] || all[1].TaskId != taskIDs[1] {
		t.Fatalf("Updates(\"\") = %+v, want one update each of %v, in that order", all, taskIDs)
	}
}

func TestMalformedAnswers(t *testing.T) {
	cases := []struct {
		mode  string
		check func(t *testing.T, ctype string, body []byte)
	}{
		{"truncated-json", func(t *testing.T, ctype string, body []byte) {
			var v any
			if ctype != "application/json" || len(body) == 0 || json.Unmarshal(body, &v) == nil {
				t.Fatalf("not truncated JSON: %s %q", ctype, body)
			}
		}},
		{"wrong-content-type", func(t *testing.T, ctype string, body []byte) {
			if !strings.HasPrefix(ctype, "text/html") {
				t.Fatalf("content type %q", ctype)
			}
		}},
		{"empty-body", func(t *testing.T, ctype string, body []byte) {
			if len(body) != 0 {
				t.Fatalf("body %q", body)
			}
		}},
	}
	for _, c := range cases {
		a := newAPI(t)
		a.needLocal("fault injection")
		a.registerWorkflow(simpleWorkflow("one", "mal_task"))
		a.start("one", nil)
		a.srv.SetFaults(conductortest.Faults{"poll": {MalformedRate: 1, Malformed: []string{c.mode}}})
		r := a.expect(200, "GET", "/tasks/poll/batch/mal_task?count=1&timeout=0", nil)
		c.check(t, r.header.Get("Content-Type"), r.body)
		// The poll was processed: the task is IN_PROGRESS, not handed out again.
		if got := a.srv.TasksByStatus(model.TaskInProgress); len(got) != 1 {
			t.Fatalf("mode %s: %d tasks in progress", c.mode, len(got))
		}
	}
}

// A misspelt Malformed mode is refused where the faults are set, with the
// group and the name in the message, instead of injecting nothing.
func TestUnknownMalformedModePanics(t *testing.T) {
	a := newAPI(t)
	a.needLocal("fault injection")
	defer func() {
		msg := fmt.Sprint(recover())
		if !strings.Contains(msg, `Faults["poll"].Malformed`) || !strings.Contains(msg, `"truncated"`) || !strings.Contains(msg, `"truncated-json"`) {
			t.Fatalf("panic %q: want one naming the field, the value and the known modes", msg)
		}
	}()
	a.srv.SetFaults(conductortest.Faults{"poll": {MalformedRate: 1, Malformed: []string{"truncated"}}})
}

func TestOverDelivery(t *testing.T) {
	a := newAPI(t)
	a.needLocal("fault injection")
	a.registerWorkflow(simpleWorkflow("one", "od_task"))
	for range 5 {
		a.start("one", nil)
	}
	a.srv.SetFaults(conductortest.Faults{"poll": {ExtraTasks: 2}})
	if got := a.pollBatch("od_task", "count=1&timeout=0"); len(got) != 3 {
		t.Fatalf("count=1 handed out %d, want 3", len(got))
	}
	if st := a.srv.Stats(); st.OverDeliveredPolls != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLatencyIsAdded(t *testing.T) {
	a := newAPI(t)
	a.needLocal("fault injection")
	a.srv.SetFaults(conductortest.Faults{"": {Latency: 30 * time.Millisecond}})
	a.expect(200, "GET", "/metadata/taskdefs", nil)
	if st := a.srv.Stats(); st.DelayedRequests != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDownAndUp(t *testing.T) {
	a := newAPI(t)
	a.needLocal("fault injection")
	a.expect(200, "GET", "/metadata/taskdefs", nil)
	a.srv.Down(0)
	if !a.srv.IsDown() {
		t.Fatal("IsDown false after Down")
	}
	if res, err := a.client.Get(a.base + "/metadata/taskdefs"); err == nil {
		res.Body.Close()
		t.Fatalf("request while down answered %d", res.StatusCode)
	}
	if err := a.srv.Up(); err != nil {
		t.Fatal(err)
	}
	a.expect(200, "GET", "/metadata/taskdefs", nil)

	// Down for an hour, so that the request below meets the outage however
	// slowly it is sent; then a short Down replaces the hour, and the
	// server must come back by itself.
	a.srv.Down(time.Hour)
	if res, err := a.client.Get(a.base + "/metadata/taskdefs"); err == nil {
		res.Body.Close()
		t.Fatal("request answered during a timed Down")
	}
	a.srv.Down(50 * time.Millisecond)
	waitFor(t, "server back up", func() bool { return !a.srv.IsDown() })
	a.expect(200, "GET", "/metadata/taskdefs", nil)
	if st := a.srv.Stats(); st.Downs != 2 {
		t.Fatalf("stats %+v", st)
	}

	// Down(0) cancels the comeback of an earlier timed Down.
	a.srv.Down(50 * time.Millisecond)
	a.srv.Down(0)
	time.Sleep(150 * time.Millisecond)
	if !a.srv.IsDown() {
		t.Fatal("the server came back after Down(0) replaced a timed Down")
	}
	if err := a.srv.Up(); err != nil {
		t.Fatal(err)
	}
	a.expect(200, "GET", "/metadata/taskdefs", nil)
}

func TestDownCutsLongPolls(t *testing.T) {
	a := newAPI(t)
	a.needLocal("fault injection")
	errc := make(chan error, 1)
	go func() {
		res, err := a.client.Get(a.base + "/tasks/poll/batch/cut?timeout=5000")
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, "poll parked", func() bool { return a.srv.Waiting("cut", "") == 1 })
	a.srv.Down(0)
	if err := <-errc; err == nil {
		t.Fatal("long poll survived Down")
	}
	waitFor(t, "poll released", func() bool { return a.srv.Waiting("cut", "") == 0 })
}

func TestCloseIsIdempotentAndEndsLongPolls(t *testing.T) {
	srv := conductortest.NewServer()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := client.Get(srv.URL() + "/tasks/poll/batch/x?timeout=5000")
		if err == nil {
			res.Body.Close()
		}
	}()
	waitFor(t, "poll parked", func() bool { return srv.Waiting("x", "") == 1 })
	srv.Close()
	srv.Close()
	<-done
	if err := srv.Up(); err == nil {
		t.Fatal("Up after Close succeeded")
	}
}

func TestHandlerForEmbedding(t *testing.T) {
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional())
	defer srv.Close()
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"healthy":true`) {
		t.Fatalf("health via Handler: %d %s", rec.Code, rec.Body)
	}
}
