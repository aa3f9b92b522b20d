package conductortest_test

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

func TestEmptyPolls(t *testing.T) {
	a := newAPI(t)
	nothing := a.name("nothing")
	r := a.expect(204, "GET", "/tasks/poll/"+nothing+"?workerid=w", nil)
	if len(r.body) != 0 {
		t.Fatalf("single poll body %q, want empty", r.body)
	}
	if got := a.expect(200, "GET", "/tasks/poll/batch/"+nothing+"?count=5&timeout=0", nil).text(); got != "[]" {
		t.Fatalf("batch poll body %q, want []", got)
	}
	e := a.expect(400, "GET", "/tasks/poll/batch/"+nothing+"?timeout=5001", nil).errBody(t)
	if e.Message != "Long Poll Timeout value cannot be more than 5 seconds" || e.Status != 400 {
		t.Fatalf("error body %+v", e)
	}
	a.expect(200, "GET", "/tasks/poll/batch/"+nothing+"?count=0&timeout=5000", nil)
}

func TestPollCountLimits(t *testing.T) {
	a := newAPI(t)
	countTask := a.name("count_task")
	wfName := a.oneTask(countTask)
	for range 130 {
		a.start(wfName, nil)
	}
	counts := []string{"0", "-3"}
	if a.remote && !a.is321() {
		// Conductor 3.32.3 hands out tasks for a negative count (all 130
		// here): a server bug that the dev server does not copy, and that
		// the SDK never meets (client.PollOptions.Count must be >= 1).
		counts = counts[:1]
	}
	for _, c := range counts {
		if got := a.pollBatch(countTask, "count="+c+"&timeout=0"); len(got) != 0 {
			t.Fatalf("count=%s handed out %d tasks", c, len(got))
		}
	}
	// 3.21 hands out at most 100 per poll; 3.32 with SQLite as many as
	// asked; 3.32 with Redis was seen handing out 64 at a time.
	if a.sqlite() {
		if got := a.pollBatch(countTask, "count=500&timeout=0"); len(got) != 130 {
			t.Fatalf("count=500 handed out %d tasks, want all 130 (no cap on %s)", len(got), a.version())
		}
		return
	}
	if !a.is321() {
		total := 0
		for range 10 {
			got := len(a.pollBatch(countTask, "count=500&timeout=0"))
			if got == 0 {
				break
			}
			total += got
		}
		if total != 130 {
			t.Fatalf("polls with count=500 handed out %d tasks in all, want 130", total)
		}
		return
	}
	if got := a.pollBatch(countTask, "count=500&timeout=0"); len(got) != 100 {
		t.Fatalf("count=500 handed out %d tasks, want the cap of 100", len(got))
	}
	if got := a.pollBatch(countTask, "count=500&timeout=0"); len(got) != 30 {
		t.Fatalf("second poll handed out %d, want the remaining 30", len(got))
	}
}

func TestPollMarksTaskInProgress(t *testing.T) {
	a := newAPI(t)
	flip := a.name("flip_task")
	id := a.start(a.oneTask(flip), nil)
	before := a.workflow(id).Tasks[0]
	if before.Status != model.TaskScheduled || before.PollCount != 0 || before.StartTime != 0 {
		t.Fatalf("scheduled task %+v", before)
	}
	r := a.expect(200, "GET", "/tasks/poll/"+flip+"?workerid=worker-7", nil)
	var got model.Task
	r.json(t, &got)
	if got.Status != model.TaskInProgress || got.PollCount != 1 || got.WorkerId != "worker-7" || got.StartTime == 0 || got.UpdateTime == 0 {
		t.Fatalf("polled task %+v", got)
	}
	if got.TaskId != before.TaskId || got.WorkflowInstanceId != id || got.ReferenceTaskName != "ref0" || got.TaskDefName != flip {
		t.Fatalf("polled task identity %+v", got)
	}
	if got.WorkflowTask == nil || got.WorkflowTask.TaskDefinition == nil || got.ResponseTimeoutSeconds != 3600 {
		t.Fatalf("polled task lacks its definition: %+v", got)
	}
	// Handed out once: the queue is empty now.
	if again := a.pollBatch(flip, "count=1&timeout=0"); len(again) != 0 {
		t.Fatalf("task handed out twice")
	}
}

func TestLongPollReturnsWhenTaskScheduled(t *testing.T) {
	a := newAPI(t, conductortest.WithLongPoll("early"))
	a.needLocal("a long poll that answers when a task is scheduled; longpoll_test.go checks each real server's mode")
	lp := a.name("lp_task")
	wfName := a.oneTask(lp)
	got := make(chan []model.Task, 1)
	go func() {
		req, _ := http.NewRequest("GET", a.base+"/tasks/poll/batch/"+lp+"?count=5&timeout=5000", nil)
		res, err := a.client.Do(req)
		if err != nil {
			got <- nil
			return
		}
		defer res.Body.Close()
		var tasks []model.Task
		_ = jsonDecode(res.Body, &tasks)
		got <- tasks
	}()
	waitFor(t, "poll parked", func() bool { return a.srv.Waiting(lp, "") == 1 })
	a.start(wfName, nil)
	if tasks := <-got; len(tasks) != 1 {
		t.Fatalf("long poll returned %d tasks, want the one just scheduled", len(tasks))
	}
}

func TestPollDataRecordedOnEveryPoll(t *testing.T) {
	a := newAPI(t)
	pdTask := a.name("pd_task")
	a.expect(200, "GET", "/tasks/poll/batch/"+pdTask+"?timeout=0&workerid=alpha", nil)
	a.expect(200, "GET", "/tasks/poll/batch/"+pdTask+"?timeout=0&workerid=beta&domain=blue", nil)
	var pd []model.PollData
	a.expect(200, "GET", "/tasks/queue/polldata?taskType="+pdTask, nil).json(t, &pd)
	if len(pd) != 2 {
		t.Fatalf("poll data %+v, want one entry per domain", pd)
	}
	byDomain := map[string]model.PollData{}
	for _, p := range pd {
		byDomain[p.Domain] = p
	}
	if byDomain[""].WorkerId != "alpha" || byDomain["blue"].WorkerId != "beta" || byDomain[""].LastPollTime == 0 || byDomain[""].QueueName != pdTask {
		t.Fatalf("poll data %+v", pd)
	}
	var all []model.PollData
	a.expect(200, "GET", "/tasks/queue/polldata/all", nil).json(t, &all)
	ours := 0
	for _, p := range all {
		if p.QueueName == pdTask {
			ours++
		}
	}
	if ours != 2 {
		t.Fatalf("all poll data %+v, want both entries of %s", all, pdTask)
	}
	a.expect(500, "GET", "/tasks/queue/polldata", nil)
}

func TestUpdateChecksInOrder(t *testing.T) {
	a := newAPI(t)
	upd := a.name("upd_task")
	wfName := a.oneTask(upd)
	wfID := a.start(wfName, nil)
	task := a.pollOne(upd)
	done := a.start(wfName, nil)
	doneTask := a.pollOne(upd)
	a.update(doneTask, model.CompletedTask, nil, "")

	cases := []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"missing ids", map[string]any{"status": "COMPLETED"}, 400, "Validation failed, check below errors for detail."},
		{"extendLease unknown task", map[string]any{"workflowInstanceId": "nope", "taskId": "nope", "extendLease": true}, 404, "No such task found by id: nope"},
		{"unknown workflow", map[string]any{"workflowInstanceId": "nope", "taskId": task.TaskId, "status": "COMPLETED"}, 404, "No such workflow found by id: nope"},
		{"unknown task", map[string]any{"workflowInstanceId": wfID, "taskId": "nope", "status": "COMPLETED"}, 404, "No such task found by id: nope"},
		{"missing status", map[string]any{"workflowInstanceId": wfID, "taskId": task.TaskId}, 500, ""},
		{"bad status", map[string]any{"workflowInstanceId": wfID, "taskId": task.TaskId, "status": "SCHEDULED"}, 500, ""},
		{"malformed json", `{"taskId":`, 500, ""},
		{"terminal task ignored", map[string]any{"workflowInstanceId": done, "taskId": doneTask.TaskId, "status": "FAILED"}, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.on(t).expect(c.status, "POST", "/tasks", c.body)
			if c.msg != "" {
				if e := r.errBody(t); e.Message != c.msg || e.Status != c.status {
					t.Fatalf("error body %+v, want message %q", e, c.msg)
				}
			}
		})
	}
	// Both ids are reported, in no particular order.
	e := a.expect(400, "POST", "/tasks", map[string]any{}).errBody(t)
	paths := map[string]bool{}
	for _, v := range e.ValidationErrors {
		paths[v.Path] = true
	}
	if len(e.ValidationErrors) != 2 || !paths["updateTask.arg0.workflowInstanceId"] || !paths["updateTask.arg0.taskId"] {
		t.Fatalf("validation errors %+v", e.ValidationErrors)
	}
	if got := a.workflow(done).Tasks[0]; got.Status != model.TaskCompleted {
		t.Fatalf("ignored update changed the task: %s", got.Status)
	}
	if a.srv != nil {
		if st := a.srv.Stats(); st.UpdatesToTerminal != 1 {
			t.Fatalf("UpdatesToTerminal = %d, want 1", st.UpdatesToTerminal)
		}
	}
	// The answer to an accepted update is the task id as text.
	r := a.update(task, model.CompletedTask, nil, "")
	if r.text() != task.TaskId || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("update answer %q (%s)", r.text(), r.header.Get("Content-Type"))
	}
}

func TestInProgressUpdateRequeues(t *testing.T) {
	a := newAPI(t)
	ip := a.name("ip_task")
	a.start(a.oneTask(ip), nil)
	first := a.pollOne(ip)
	long := strings.Repeat("x", 600)
	a.update(first, model.InProgressTask, map[string]any{"step": 1.0}, long)
	got := a.task(first.TaskId)
	if got.Status != model.TaskScheduled || len(got.ReasonForIncompletion) != 500 || got.OutputData["step"] != 1.0 {
		t.Fatalf("after IN_PROGRESS: status %s, reason len %d, output %v", got.Status, len(got.ReasonForIncompletion), got.OutputData)
	}
	second := a.pollOne(ip)
	if second.TaskId != first.TaskId || second.PollCount != 2 || second.StartTime != first.StartTime || second.OutputData["step"] != 1.0 {
		t.Fatalf("re-polled task %+v", second)
	}
	// Output is replaced, not merged.
	a.update(second, model.InProgressTask, map[string]any{"other": true}, "")
	got = a.task(first.TaskId)
	if _, ok := got.OutputData["step"]; ok || got.OutputData["other"] != true {
		t.Fatalf("output %v, want replaced", got.OutputData)
	}
	// callbackAfterSeconds keeps it invisible for now.
	third := a.pollOne(ip)
	res := model.TaskResult{WorkflowInstanceId: third.WorkflowInstanceId, TaskId: third.TaskId, Status: model.InProgressTask, CallbackAfterSeconds: 60}
	a.expect(200, "POST", "/tasks", res)
	if got := a.pollBatch(ip, "count=1&timeout=0"); len(got) != 0 {
		t.Fatalf("task visible before its callback time")
	}
	if n := a.queueSize(ip); n != 1 {
		t.Fatalf("queue size %d, want 1 (delayed messages count)", n)
	}
}

func TestExtendLeaseOnlyTouchesUpdateTime(t *testing.T) {
	a := newAPI(t)
	el := a.name("el_task")
	a.start(a.oneTask(el), nil)
	task := a.pollOne(el)
	res := model.TaskResult{WorkflowInstanceId: task.WorkflowInstanceId, TaskId: task.TaskId, Status: model.CompletedTask,
		ExtendLease: true, OutputData: map[string]any{"x": 1.0}}
	a.expect(200, "POST", "/tasks", res)
	got := a.task(task.TaskId)
	if got.Status != model.TaskInProgress || len(got.OutputData) != 0 || got.UpdateTime < task.UpdateTime {
		t.Fatalf("after extendLease: %+v", got)
	}
	if a.srv != nil && a.srv.Stats().ExtendLeases != 1 {
		t.Fatal("extendLease not counted")
	}
}

func TestUpdateV2(t *testing.T) {
	a := newAPI(t)
	v2 := a.name("v2_task")
	wfName := a.oneTask(v2)
	a.start(wfName, nil)
	a.start(wfName, nil)
	first := a.pollOne(v2)
	res := model.TaskResult{WorkflowInstanceId: first.WorkflowInstanceId, TaskId: first.TaskId, Status: model.CompletedTask, WorkerId: "v2worker"}
	var next model.Task
	a.expect(200, "POST", "/tasks/update-v2", res).json(t, &next)
	if next.TaskId == "" || next.TaskId == first.TaskId || next.Status != model.TaskInProgress || next.WorkerId != "v2worker" {
		t.Fatalf("next task %+v", next)
	}
	lease := model.TaskResult{WorkflowInstanceId: next.WorkflowInstanceId, TaskId: next.TaskId, ExtendLease: true}
	a.expect(204, "POST", "/tasks/update-v2", lease)
	res = model.TaskResult{WorkflowInstanceId: next.WorkflowInstanceId, TaskId: next.TaskId, Status: model.CompletedTask}
	a.expect(204, "POST", "/tasks/update-v2", res)
	a.expect(404, "POST", "/tasks/update-v2", model.TaskResult{WorkflowInstanceId: "x", TaskId: "y", Status: model.CompletedTask})
}

func TestUpdateByReferenceName(t *testing.T) {
	a := newAPI(t)
	refA := a.name("ref_a")
	def := simpleWorkflow(a.name("two"), refA, a.name("ref_b"))
	a.registerWorkflow(def)
	id := a.start(def.Name, nil)
	task := a.pollOne(refA)
	a.update(task, model.InProgressTask, map[string]any{"kept": 1.0}, "")

	r := a.expect(200, "POST", "/tasks/"+id+"/ref0/COMPLETED?workerid=byref", map[string]any{"added": "yes"})
	if r.text() != task.TaskId {
		t.Fatalf("answer %q, want task id", r.text())
	}
	got := a.task(task.TaskId)
	if got.Status != model.TaskCompleted || got.OutputData["kept"] != 1.0 || got.OutputData["added"] != "yes" || got.WorkerId != "byref" {
		t.Fatalf("task after ref update %+v", got)
	}
	// No running task with that ref: 200 with an empty body; /sync: 404.
	if r := a.expect(200, "POST", "/tasks/"+id+"/ref0/COMPLETED", map[string]any{}); len(r.body) != 0 {
		t.Fatalf("body %q, want empty", r.body)
	}
	a.expect(200, "POST", "/tasks/unknown-wf/ref0/COMPLETED", map[string]any{})
	e := a.expect(404, "POST", "/tasks/"+id+"/ref0/COMPLETED/sync", map[string]any{}).errBody(t)
	if e.Message != "Found no running task ref0 of workflow "+id+" to update" {
		t.Fatalf("message %q", e.Message)
	}
	var wf model.Workflow
	a.expect(200, "POST", "/tasks/"+id+"/ref1/COMPLETED/sync", map[string]any{"z": 1}).json(t, &wf)
	if wf.Status != model.WorkflowCompleted || len(wf.Tasks) != 2 {
		t.Fatalf("sync answer %+v", wf)
	}
	a.expect(500, "POST", "/tasks/"+id+"/ref1/SCHEDULED", map[string]any{})
}

func TestGetTaskAndLogs(t *testing.T) {
	a := newAPI(t)
	logTask := a.name("log_task")
	a.start(a.oneTask(logTask), nil)
	task := a.pollOne(logTask)
	var got model.Task
	a.expect(200, "GET", "/tasks/"+task.TaskId, nil).json(t, &got)
	if got.TaskId != task.TaskId || got.Status != model.TaskInProgress {
		t.Fatalf("task %+v", got)
	}
	// Conductor 3.21.14 answers an unknown task with 204 and no body (3.32
	// with a 404), and a task without logs (or an unknown one) with 200 []
	// (3.32 with 204).
	expectUnknownTask(t, a, "nope")
	if !a.sqlite() && !a.is321() {
		// 3.32 with Redis stores and indexing off keeps no logs: 204.
		a.expect(204, "GET", "/tasks/"+task.TaskId+"/log", nil)
		a.expect(200, "POST", "/tasks/"+task.TaskId+"/log", "line one, not JSON")
		a.expect(204, "GET", "/tasks/"+task.TaskId+"/log", nil)
		return
	}
	if a.is321() {
		var none []model.TaskExecLog
		a.expect(200, "GET", "/tasks/"+task.TaskId+"/log", nil).json(t, &none)
		if none == nil || len(none) != 0 {
			t.Fatalf("logs of a task without any: %#v, want []", none)
		}
		a.expect(200, "GET", "/tasks/nope/log", nil)
	} else {
		a.expect(204, "GET", "/tasks/"+task.TaskId+"/log", nil)
		a.expect(204, "GET", "/tasks/"+a.name("nope")+"/log", nil)
	}
	a.expect(200, "POST", "/tasks/"+task.TaskId+"/log", "line one, not JSON")
	res := model.TaskResult{WorkflowInstanceId: task.WorkflowInstanceId, TaskId: task.TaskId, Status: model.CompletedTask,
		Logs: []model.TaskExecLog{{Log: "from result"}}}
	a.expect(200, "POST", "/tasks", res)
	var logs []model.TaskExecLog
	a.expect(200, "GET", "/tasks/"+task.TaskId+"/log", nil).json(t, &logs)
	if a.remote && a.is321() {
		// 3.21's default configuration drops task logs (3.32 with SQLite
		// keeps them; the order of its answer is its own).
		if logs == nil || len(logs) != 0 {
			t.Fatalf("logs %+v, want [] from a server that drops them", logs)
		}
		return
	}
	if a.remote {
		sort.Slice(logs, func(i, j int) bool { return logs[i].Log > logs[j].Log })
	}
	if len(logs) != 2 || logs[0].Log != "line one, not JSON" || logs[1].Log != "from result" || logs[0].TaskId != task.TaskId || logs[0].CreatedTime == 0 {
		t.Fatalf("logs %+v", logs)
	}
}

func TestQueueSizes(t *testing.T) {
	a := newAPI(t)
	qs, other := a.name("qs_task"), a.name("other")
	wfName := a.oneTask(qs)
	for range 3 {
		a.start(wfName, nil)
	}
	var sizes map[string]int
	a.expect(200, "GET", "/tasks/queue/sizes?taskType="+qs+"&taskType="+other, nil).json(t, &sizes)
	if len(sizes) != 2 || sizes[qs] != 3 || sizes[other] != 0 {
		t.Fatalf("sizes %v", sizes)
	}
	a.pollOne(qs)
	var n int
	a.expect(200, "GET", "/tasks/queue/size?taskType="+qs, nil).json(t, &n)
	if n != 2 {
		t.Fatalf("size %d, want 2", n)
	}
	var all map[string]int
	a.expect(200, "GET", "/tasks/queue/all", nil).json(t, &all)
	if all[qs] != 2 {
		t.Fatalf("all %v", all)
	}
	a.expect(500, "GET", "/tasks/queue/sizes", nil)
}

func TestDomains(t *testing.T) {
	a := newAPI(t)
	domA := a.name("dom_a")
	def := simpleWorkflow(a.name("two"), domA, a.name("dom_b"))
	a.registerWorkflow(def)
	start := func(a *api, m map[string]string) string {
		return a.expect(200, "POST", "/workflow", model.StartWorkflowRequest{Name: def.Name, Input: map[string]any{}, TaskToDomain: m}).text()
	}
	cases := []struct {
		name       string
		mapping    map[string]string
		wantDomain string
	}{
		{"star", map[string]string{"*": "blue"}, "blue"},
		{"type key wins", map[string]string{"*": "blue", domA: "green"}, "green"},
		{"list falls back to last", map[string]string{domA: "idle1,idle2"}, "idle2"},
		{"NO_DOMAIN last", map[string]string{domA: "idle1,NO_DOMAIN"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := a.on(t)
			id := start(a, c.mapping)
			task := a.workflow(id).Tasks[0]
			if task.Domain != c.wantDomain {
				t.Fatalf("domain %q, want %q", task.Domain, c.wantDomain)
			}
			if c.wantDomain != "" {
				if got := a.pollBatch(domA, "count=10&timeout=0"); len(got) != 0 {
					t.Fatalf("a poller without domain got a domain task")
				}
			}
			q := "count=1&timeout=0"
			if c.wantDomain != "" {
				q += "&domain=" + c.wantDomain
			}
			got := a.pollBatch(domA, q)
			if len(got) != 1 || got[0].TaskId != task.TaskId {
				t.Fatalf("poll in domain %q got %d tasks", c.wantDomain, len(got))
			}
		})
	}
	// A domain that polled recently wins over the last one of the list.
	a.expect(200, "GET", "/tasks/poll/batch/"+domA+"?timeout=0&domain=active", nil)
	id := start(a, map[string]string{domA: "active,fallback"})
	if d := a.workflow(id).Tasks[0].Domain; d != "active" {
		t.Fatalf("domain %q, want the recently polled one", d)
	}
}

func TestConcurrentExecLimit(t *testing.T) {
	a := newAPI(t, conductortest.WithPostponeDuration(200*1e6))
	cl := a.name("cl_task")
	a.registerTasks(model.TaskDef{Name: cl, ConcurrentExecLimit: 1, ResponseTimeoutSeconds: 60, RetryCount: 0})
	wfName := a.oneTask(cl)
	a.start(wfName, nil)
	a.start(wfName, nil)
	got := a.pollBatch(cl, "count=5&timeout=0")
	if len(got) != 1 {
		t.Fatalf("handed out %d, want 1 (limit)", len(got))
	}
	if more := a.pollBatch(cl, "count=5&timeout=0"); len(more) != 0 {
		t.Fatalf("limit exceeded")
	}
	a.update(got[0], model.CompletedTask, nil, "")
	// The held-back task comes back after the postpone duration.
	if later := a.pollDue(cl, 200*time.Millisecond); later.TaskId == got[0].TaskId {
		t.Fatalf("the completed task was handed out again")
	}
	if a.srv != nil && a.srv.Stats().Postponed == 0 {
		t.Fatal("postponement not counted")
	}
}

func TestRateLimit(t *testing.T) {
	a := newAPI(t, conductortest.WithPostponeDuration(100*1e6))
	if a.remote && !a.is321() && os.Getenv("CONDUCTOR_SERVER_STORE") != "redis" {
		// Seen on 3.32.3 with SQLite: all 3 were handed out in one poll
		// with 2 allowed per minute. Not copied by the dev server.
		t.Skipf("Conductor %s with SQLite does not enforce rateLimitPerFrequency (known server bug, see docs/compatibility.md)", a.version())
	}
	rl := a.name("rl_task")
	a.registerTasks(model.TaskDef{Name: rl, RateLimitPerFrequency: 2, RateLimitFrequencyInSeconds: 60, RetryCount: 0})
	wfName := a.oneTask(rl)
	for range 3 {
		a.start(wfName, nil)
	}
	if got := a.pollBatch(rl, "count=5&timeout=0"); len(got) != 2 {
		t.Fatalf("handed out %d, want 2 per window", len(got))
	}
	if got := a.pollBatch(rl, "count=5&timeout=500"); len(got) != 0 {
		t.Fatalf("rate limit exceeded within the window")
	}
	if n := a.queueSize(rl); n != 1 {
		t.Fatalf("queue size %d, want the postponed task", n)
	}
}

// Eight pollers share 10,000 tasks (300 on a remote server, whose starts
// take longer): each is handed out exactly once.
func TestConcurrentPollersExactlyOnce(t *testing.T) {
	a := newAPI(t)
	total := 10000
	switch {
	case a.remote:
		total = 300
	case testing.Short():
		total = 2000 // the developer loop; make test and CI run 10,000
	case a.version() != conductortest.Version332:
		// make test's second pass, over the 3.21 profile: the scale run
		// is the default profile's; 2,000 tasks take this profile's poll
		// and update branches from eight pollers at once just the same.
		total = 2000
	}
	cc := a.name("cc_task")
	wfName := a.oneTask(cc)
	t0 := time.Now()
	ids := make([]string, total)
	for i := range total {
		if a.srv != nil {
			id, err := a.srv.StartWorkflow(model.StartWorkflowRequest{Name: wfName, Input: map[string]any{"i": i}})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = id
		} else {
			ids[i] = a.start(wfName, map[string]any{"i": i})
		}
	}
	t.Logf("started %d workflows in %v", total, time.Since(t0))
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, err := a.client.Get(fmt.Sprintf("%s/tasks/poll/batch/%s?count=50&timeout=0&workerid=w%d", a.base, cc, w))
				if err != nil {
					t.Error(err)
					return
				}
				var tasks []struct{ TaskId, WorkflowInstanceId string }
				err = jsonDecode(res.Body, &tasks)
				res.Body.Close()
				if err != nil {
					t.Error(err)
					return
				}
				if len(tasks) == 0 {
					return
				}
				for _, tk := range tasks {
					mu.Lock()
					seen[tk.TaskId]++
					mu.Unlock()
					body := fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"COMPLETED"}`, tk.WorkflowInstanceId, tk.TaskId)
					ures, err := a.client.Post(a.base+"/tasks", "application/json", strings.NewReader(body))
					if err != nil {
						t.Error(err)
						return
					}
					ures.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("%d distinct tasks handed out, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("task %s handed out %d times", id, n)
		}
	}
	if a.srv == nil {
		for _, id := range ids {
			if wf := a.workflow(id); wf.Status != model.WorkflowCompleted || len(wf.Tasks) != 1 {
				t.Fatalf("workflow %s: %s with %d tasks", id, wf.Status, len(wf.Tasks))
			}
		}
		return
	}
	st := a.srv.Stats()
	if st.TasksHandedOut != int64(total) || st.WorkflowsComplete != int64(total) {
		t.Fatalf("stats %+v", st)
	}
	if n := len(a.srv.TasksByStatus(model.TaskCompleted)); n != total {
		t.Fatalf("%d completed tasks", n)
	}
}
