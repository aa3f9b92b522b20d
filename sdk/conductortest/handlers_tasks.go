package conductortest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/baton-go/baton/internal/fastjson"
	"github.com/baton-go/baton/sdk/conductortest/internal/wire"
	"github.com/baton-go/baton/sdk/model"
)

// searchQueryRE accepts what Conductor's search grammar does, roughly:
// conditions such as status="RUNNING", workflowType IN (a,b) or
// startTime>0, joined with AND or OR, optionally in parentheses.
var searchQueryRE = regexp.MustCompile(`^\s*\(?\s*\w+(\.\w+)*\s*(=|!=|>|<|IN\s*\(|STARTS_WITH)\s*.+$`)

// Poll limits of the real server.
const (
	maxPollCount       = 100
	maxPollTimeoutMs   = 5000
	defaultPollTimeout = 100 * time.Millisecond
	maxReasonLen       = 500
)

func (s *Server) handlePoll(w http.ResponseWriter, r *http.Request, taskType string) {
	q := r.URL.Query()
	got := s.poll(r.Context(), taskType, q.Get("domain"), q.Has("domain"), q.Get("workerid"), 1, defaultPollTimeout)
	if len(got) == 0 {
		writeEmpty(w, http.StatusNoContent)
		return
	}
	s.writeTask(w, &got[0])
}

func (s *Server) handleBatchPoll(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	taskType := r.PathValue("tasktype")
	count := 1
	if v := q.Get("count"); v != "" {
		n, e := atoiParam("count", "int", v)
		if e != nil {
			s.writeError(w, e)
			return
		}
		count = n
	}
	timeout := defaultPollTimeout
	if v := q.Get("timeout"); v != "" {
		n, e := atoiParam("timeout", "int", v)
		if e != nil {
			s.writeError(w, e)
			return
		}
		if n > maxPollTimeoutMs {
			s.writeError(w, badRequest("Long Poll Timeout value cannot be more than 5 seconds"))
			return
		}
		timeout = time.Duration(n) * time.Millisecond
	}
	if s.is321() {
		// The Redis queue hands out at most 100; 3.32 (SQLite) as many
		// as asked.
		count = min(count, maxPollCount)
	}
	if count > 0 {
		count += s.extraTasks()
	}
	got := s.poll(r.Context(), taskType, q.Get("domain"), q.Has("domain"), q.Get("workerid"), count, timeout)
	bp := s.getEnc()
	*bp = wire.AppendTasks(*bp, got)
	writeRaw(w, http.StatusOK, "application/json", *bp)
	s.putEnc(bp)
}

// poll hands out up to count due tasks of the queue, waiting up to timeout
// as the server's long-poll mode (WithLongPoll) says. While waiting it
// sleeps on a channel and a timer (no CPU).
func (s *Server) poll(ctx context.Context, taskType, domain string, hasDomain bool, workerID string, count int, timeout time.Duration) []wire.Task {
	qn := taskType
	if hasDomain && (domain != "" || s.is321()) {
		// 3.21 polls the queue ":taskType" for an empty domain; 3.32
		// takes it for no domain.
		qn = domain + ":" + taskType
	}
	now := s.now()
	s.stats.polls.Add(1)
	s.mu.Lock()
	s.pollData[pollKey{taskType, domain, hasDomain && domain == ""}] = pollEntry{workerID: workerID, lastPoll: nowMs(now)}
	var out []wire.Task
	if count > 0 && ctx.Err() == nil {
		q := s.queue(qn)
		if timeout > 0 && !s.is321() {
			// Conductor 3.32 does not notice that a held poll's client
			// went away: it keeps the poll until it is answered (a task
			// came, or the timeout passed) and then starts the tasks for
			// a worker that is gone, where they wait out their response
			// timeout. 3.21's Redis queue never wakes a held poll for a
			// task, so it has nothing to hand an abandoned one.
			ctx = context.WithoutCancel(ctx)
		}
		if mode := s.longPollMode(); mode == longPollEarly {
			out = s.pollEarly(ctx, q, count, workerID, now, timeout)
		} else {
			out = s.pollHeld(ctx, q, mode, count, workerID, now, timeout)
		}
	}
	s.mu.Unlock()
	if len(out) == 0 {
		s.stats.emptyPolls.Add(1)
	}
	return out
}

// pollEarly answers as soon as at least one task is due. Caller holds s.mu;
// it is held again on return.
func (s *Server) pollEarly(ctx context.Context, q *queue, count int, workerID string, now time.Time, timeout time.Duration) []wire.Task {
	deadline := now.Add(timeout)
	var (
		out   []wire.Task
		ch    chan struct{}
		timer *time.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		out = s.claim(q, count, workerID, now, out)
		if len(out) > 0 || !now.Before(deadline) {
			return out
		}
		if ch == nil {
			ch = make(chan struct{}, 1)
		}
		q.waiters = append(q.waiters, ch)
		wait := deadline.Sub(now)
		if due, ok := q.nextDue(); ok {
			wait = min(wait, max(due.Sub(now), 0))
		}
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		gone := false
		select {
		case <-ch:
		case <-timer.C:
		case <-ctx.Done():
			gone = true
		case <-s.closing:
			gone = true
		}
		s.mu.Lock()
		q.removeWaiter(ch)
		select {
		case <-ch:
		default:
		}
		if gone {
			return nil
		}
		now = s.now()
	}
}

// claim takes up to count due tasks off q and starts them (see claimOne).
// Caller holds s.mu.
func (s *Server) claim(q *queue, count int, workerID string, now time.Time, out []wire.Task) []wire.Task {
	q.promote(now)
	if out == nil {
		// One allocation for the whole batch: a task copy is large.
		out = make([]wire.Task, 0, max(min(count, len(q.ready)-q.head), 0))
	}
	for len(out) < count {
		t := q.next()
		if t == nil {
			break
		}
		if j, ok := s.claimOne(t, workerID, now); ok {
			out = append(out, j)
		}
	}
	return out
}

// pollable reports whether a task taken off its queue may be handed out.
// An IN_PROGRESS task is only queued after a requeue; the real server hands
// it out again then.
func (t *task) pollable() bool {
	return (t.m.Status == model.TaskScheduled || t.m.Status == model.TaskInProgress) && !t.wf.m.Status.Terminal()
}

// claimOne marks a task taken off its queue IN_PROGRESS for workerID (the
// real server's poll step 4), applying concurrentExecLimit and
// rateLimitPerFrequency: a task over a limit is put back, postponed, and
// claimOne reports false. Caller holds s.mu.
func (s *Server) claimOne(t *task, workerID string, now time.Time) (wire.Task, bool) {
	if !t.pollable() {
		return wire.Task{}, false
	}
	ms := nowMs(now)
	name := t.m.TaskDefName
	if lim := t.def.ConcurrentExecLimit; lim > 0 && s.running[name] >= lim {
		s.push(t, s.opts.postpone, now)
		s.stats.postponed.Add(1)
		return wire.Task{}, false
	}
	if lim := t.m.RateLimitPerFrequency; lim > 0 {
		window := int64(max(t.m.RateLimitFrequencyInSeconds, 1)) * 1000
		hits := s.rateHits[name]
		i := 0
		for i < len(hits) && hits[i] <= ms-window {
			i++
		}
		hits = hits[i:]
		if len(hits) >= lim {
			s.rateHits[name] = hits
			s.push(t, s.opts.postpone, now)
			s.stats.postponed.Add(1)
			return wire.Task{}, false
		}
		s.rateHits[name] = append(hits, ms)
	}
	s.setStatus(t, model.TaskInProgress)
	if t.m.StartTime == 0 {
		t.m.StartTime = ms
	}
	t.m.CallbackAfterSeconds = 0
	t.m.WorkerId = workerID
	t.m.PollCount++
	t.m.UpdateTime = ms
	s.armTask(t, now)
	s.stats.handedOut.Add(1)
	return t.forWire(), true
}

type updateRecord struct {
	res model.TaskResult
	at  time.Time
}

// decodedResult is a task update as sent, plus what encoding/json cannot
// tell apart from an absent field.
type decodedResult struct {
	model.TaskResult
	nullLogs bool // "logs": null, which the real server fails on
}

func (s *Server) decodeResult(r *http.Request) (*decodedResult, *apiError) {
	var res decodedResult
	// Every result a worker posts passes here: go-json, with encoding/json
	// deciding whatever go-json refuses (so error texts stay the same).
	// "logs": null is told apart from an absent "logs" while the body is
	// at hand.
	e := s.withJSONBody(r, func(body []byte) error {
		if err := fastjson.Unmarshal(body, &res.TaskResult); err != nil {
			return err
		}
		if res.Logs == nil && bytes.Contains(body, []byte(`"logs"`)) {
			var l struct {
				Logs json.RawMessage `json:"logs"`
			}
			res.nullLogs = json.Unmarshal(body, &l) == nil && bytes.Equal(l.Logs, []byte("null"))
		}
		return nil
	})
	if e != nil {
		return nil, e
	}
	// Jackson refuses a status outside the enum while decoding, before any
	// lookup; a missing status only fails later (see applyUpdate).
	if res.Status != "" && !res.Status.Valid() {
		values := "CANCELED, COMPLETED, FAILED_WITH_TERMINAL_ERROR, FAILED, IN_PROGRESS"
		if s.is321() {
			values = "COMPLETED, FAILED_WITH_TERMINAL_ERROR, FAILED, IN_PROGRESS"
		}
		return nil, serverError("JSON parse error: Cannot deserialize value of type `com.netflix.conductor.common.metadata.tasks.TaskResult$Status` from String %q: not one of the values accepted for Enum class: [%s]", string(res.Status), values)
	}
	var errs []validationError
	if res.WorkflowInstanceId == "" {
		errs = append(errs, validationError{Path: "updateTask.arg0.workflowInstanceId", Message: "Workflow Id cannot be null or empty"})
	}
	if res.TaskId == "" {
		errs = append(errs, validationError{Path: "updateTask.arg0.taskId", Message: "Task ID cannot be null or empty"})
	}
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	return &res, nil
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	res, e := s.decodeResult(r)
	if e != nil {
		s.writeError(w, e)
		return
	}
	s.mu.Lock()
	_, e = s.applyUpdate(res, s.now())
	s.mu.Unlock()
	if e != nil {
		s.writeError(w, e)
		return
	}
	writeText(w, res.TaskId)
}

func (s *Server) handleUpdateV2(w http.ResponseWriter, r *http.Request) {
	res, e := s.decodeResult(r)
	if e != nil {
		s.writeError(w, e)
		return
	}
	now := s.now()
	s.mu.Lock()
	t, e := s.applyUpdate(res, now)
	if e != nil {
		s.mu.Unlock()
		s.writeError(w, e)
		return
	}
	if res.ExtendLease || (!s.is321() && !t.m.Status.Terminal()) {
		// 3.32 looks for a next task only after a terminal update.
		s.mu.Unlock()
		writeEmpty(w, http.StatusNoContent)
		return
	}
	taskType, domain := t.m.TaskType, t.m.Domain
	s.pollData[pollKey{taskType: taskType, domain: domain}] = pollEntry{workerID: res.WorkerId, lastPoll: nowMs(now)}
	s.stats.polls.Add(1)
	got := s.claim(s.queue(queueName(taskType, domain)), 1, res.WorkerId, now, nil)
	s.mu.Unlock()
	if len(got) == 0 {
		writeEmpty(w, http.StatusNoContent)
		return
	}
	s.writeTask(w, &got[0])
}

// applyUpdate runs the checks and effects of an update in the real server's
// order. It returns the task (nil when the update was ignored for an unknown
// target is impossible: that is an error). Caller holds s.mu.
func (s *Server) applyUpdate(dr *decodedResult, now time.Time) (*task, *apiError) {
	res := &dr.TaskResult
	s.stats.updates.Add(1)
	s.updates[res.TaskId] = append(s.updates[res.TaskId], updateRecord{res: *res, at: now})
	ms := nowMs(now)
	if res.ExtendLease {
		t := s.tasks[res.TaskId]
		if t == nil {
			return nil, notFound("No such task found by id: %s", res.TaskId)
		}
		s.stats.extendLeases.Add(1)
		if !t.m.Status.Terminal() {
			t.m.UpdateTime = ms
			s.armTask(t, now)
		}
		return t, nil
	}
	wf := s.workflows[res.WorkflowInstanceId]
	if wf == nil {
		return nil, notFound("No such workflow found by id: %s", res.WorkflowInstanceId)
	}
	t := s.tasks[res.TaskId]
	if t == nil {
		return nil, notFound("No such task found by id: %s", res.TaskId)
	}
	if t.m.Status.Terminal() || t.wf.m.Status.Terminal() || wf.m.Status.Terminal() {
		s.dequeue(t)
		s.stats.updatesToTerminal.Add(1)
		return t, nil
	}
	if res.Status == "" {
		return nil, serverError("Cannot invoke \"com.netflix.conductor.common.metadata.tasks.TaskResult$Status.name()\" because the return value of \"com.netflix.conductor.common.metadata.tasks.TaskResult.getStatus()\" is null")
	}
	// "logs": null fails after the task and its queue message were updated;
	// the real server then leaves the workflow to its sweeper.
	var late *apiError
	if dr.nullLogs && s.is321() { // 3.32 takes it for no logs
		late = serverError("Cannot invoke \"java.util.List.forEach(java.util.function.Consumer)\" because the return value of \"com.netflix.conductor.common.metadata.tasks.TaskResult.getLogs()\" is null")
	}
	st := model.TaskStatus(res.Status)
	if st == model.TaskInProgress {
		st = model.TaskScheduled
	}
	out := res.OutputData
	if out == nil {
		out = map[string]any{}
	}
	st, out, payloadReason, pe := s.taskOutputPayload(t, res, st, out)
	if pe != nil {
		return nil, pe
	}
	s.setStatus(t, st)
	t.m.OutputData = out
	t.m.ReasonForIncompletion = truncate(res.ReasonForIncompletion, maxReasonLen)
	if payloadReason != "" {
		t.m.ReasonForIncompletion = truncate(payloadReason, maxReasonLen)
	}
	t.m.WorkerId = res.WorkerId
	t.m.CallbackAfterSeconds = res.CallbackAfterSeconds
	if res.SubWorkflowId != "" {
		t.m.SubWorkflowId = res.SubWorkflowId
	}
	t.m.UpdateTime = ms
	for _, l := range res.Logs {
		created := l.CreatedTime
		if created == 0 {
			created = ms
		}
		s.logs[t.m.TaskId] = append(s.logs[t.m.TaskId], taskLog{log: l.Log, created: created})
	}
	if st.Terminal() {
		t.m.EndTime = ms
		s.dequeue(t)
		s.setTimer(&t.timer, 0, nil, nil)
		s.afterTaskEnded(t, now)
		return t, late
	}
	s.push(t, time.Duration(res.CallbackAfterSeconds)*time.Second, now)
	s.armTask(t, now)
	return t, late
}

// truncate keeps the first n UTF-16 code units of s, as Java's substring
// does, without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s // n bytes hold at most n code units
	}
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return s[:i]
		}
	}
	return s
}

// handleUpdateByRef is POST /api/tasks/{workflowId}/{taskRefName}/{status}
// and, with sync, its /sync form.
func (s *Server) handleUpdateByRef(sync bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wfID, ref := r.PathValue("workflowId"), r.PathValue("taskRefName")
		status := model.TaskResultStatus(r.PathValue("status"))
		if !status.Valid() {
			s.writeError(w, serverError("Method parameter 'status': Failed to convert value of type 'java.lang.String' to required type 'com.netflix.conductor.common.metadata.tasks.TaskResult$Status'; Failed to convert from type [java.lang.String] to type [@org.springframework.web.bind.annotation.PathVariable com.netflix.conductor.common.metadata.tasks.TaskResult$Status] for value [%s]", status))
			return
		}
		var body map[string]any
		if e := s.decode(r, &body); e != nil {
			s.writeError(w, e)
			return
		}
		workerID := r.URL.Query().Get("workerid")
		now := s.now()
		s.mu.Lock()
		wf := s.workflows[wfID]
		var target *task
		if wf != nil {
			for _, t := range wf.tasks {
				if !t.m.Status.Terminal() && t.m.ReferenceTaskName == ref {
					target = t
					break
				}
			}
		}
		if target == nil {
			s.mu.Unlock()
			if sync {
				s.writeError(w, notFound("Found no running task %s of workflow %s to update", ref, wfID))
				return
			}
			writeEmpty(w, http.StatusOK)
			return
		}
		out := make(map[string]any, len(target.m.OutputData)+len(body))
		for k, v := range target.m.OutputData {
			out[k] = v
		}
		for k, v := range body {
			out[k] = v
		}
		res := &decodedResult{TaskResult: model.TaskResult{
			WorkflowInstanceId:    wfID,
			TaskId:                target.m.TaskId,
			Status:                status,
			OutputData:            out,
			ReasonForIncompletion: target.m.ReasonForIncompletion,
			CallbackAfterSeconds:  target.m.CallbackAfterSeconds,
			WorkerId:              target.m.WorkerId,
		}}
		if strings.TrimSpace(workerID) != "" {
			res.WorkerId = workerID
		}
		_, e := s.applyUpdate(res, now)
		var snap workflowWire
		if e == nil && sync {
			snap = wf.forWire(true)
		}
		s.mu.Unlock()
		switch {
		case e != nil:
			s.writeError(w, e)
		case sync:
			s.writeJSON(w, http.StatusOK, snap.out())
		default:
			writeText(w, res.TaskId)
		}
	}
}

func (s *Server) handleGetTask(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("taskId")
	s.mu.Lock()
	t := s.tasks[id]
	var snap wire.Task
	if t != nil {
		snap = t.forWire()
	}
	s.mu.Unlock()
	if t == nil {
		// Conductor 3.21 answers an unknown task id with 204 and no body,
		// 3.32 with a 404.
		if s.is321() {
			writeEmpty(w, http.StatusNoContent)
		} else {
			s.writeError(w, notFound("Task not found for taskId: %s", id))
		}
		return
	}
	s.writeTask(w, &snap)
}

func (s *Server) handleAddLog(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("taskId")
	body, e := readBody(r)
	if e != nil {
		s.writeError(w, e)
		return
	}
	now := nowMs(s.now())
	s.mu.Lock()
	s.logs[id] = append(s.logs[id], taskLog{log: string(body), created: now})
	s.mu.Unlock()
	writeEmpty(w, http.StatusOK)
}

func (s *Server) handleGetLogs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("taskId")
	s.mu.Lock()
	logs := s.logs[id]
	out := make([]model.TaskExecLog, len(logs))
	for i, l := range logs {
		out[i] = model.TaskExecLog{Log: l.log, TaskId: id, CreatedTime: l.created}
	}
	s.mu.Unlock()
	// Conductor 3.21 answers 200 with a list, empty when there is no log
	// (also for an unknown task); 3.32 answers 204 then.
	if len(out) == 0 && !s.is321() {
		writeEmpty(w, http.StatusNoContent)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleQueueSizes(w http.ResponseWriter, r *http.Request) {
	types := r.URL.Query()["taskType"]
	if len(types) == 0 {
		s.writeError(w, serverError("Required request parameter 'taskType' for method parameter type List is not present"))
		return
	}
	out := make(map[string]int, len(types))
	s.mu.Lock()
	for _, tt := range types {
		out[tt] = s.queueSize(tt)
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleQueueSize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tt := q.Get("taskType")
	if tt == "" {
		s.writeError(w, serverError("Required request parameter 'taskType' for method parameter type String is not present"))
		return
	}
	s.mu.Lock()
	n := s.queueSize(queueName(tt, q.Get("domain")))
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, n)
}

func (s *Server) queueSize(name string) int {
	if q := s.queues[name]; q != nil {
		return q.size
	}
	return 0
}

func (s *Server) handleQueueAll(w http.ResponseWriter, r *http.Request) {
	out := map[string]int{}
	s.mu.Lock()
	for name, q := range s.queues {
		out[name] = q.size
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) handlePollData(w http.ResponseWriter, r *http.Request) {
	tt := r.URL.Query().Get("taskType")
	if tt == "" {
		s.writeError(w, serverError("Required request parameter 'taskType' for method parameter type String is not present"))
		return
	}
	s.writeJSON(w, http.StatusOK, pollDataJSON(s.pollDataList(tt)))
}

func (s *Server) handlePollDataAll(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, pollDataJSON(s.pollDataList("")))
}

// pollDataOut is one poll data entry as the real server writes it: domain
// absent for polls without one and "" for "domain=".
type pollDataOut struct {
	QueueName    string  `json:"queueName"`
	Domain       *string `json:"domain,omitempty"`
	WorkerId     string  `json:"workerId,omitempty"`
	LastPollTime int64   `json:"lastPollTime"`
}

func pollDataJSON(list []polled) []pollDataOut {
	out := make([]pollDataOut, len(list))
	for i, p := range list {
		out[i] = pollDataOut{QueueName: p.QueueName, WorkerId: p.WorkerId, LastPollTime: p.LastPollTime}
		if p.Domain != "" || p.emptyDomain {
			d := p.Domain
			out[i].Domain = &d
		}
	}
	return out
}

type polled struct {
	model.PollData
	emptyDomain bool
}

// pollDataList returns the poll data of one task type ("" = all), sorted.
func (s *Server) pollDataList(taskType string) []polled {
	s.mu.Lock()
	out := []polled{}
	for k, p := range s.pollData {
		if taskType != "" && k.taskType != taskType {
			continue
		}
		out = append(out, polled{model.PollData{QueueName: k.taskType, Domain: k.domain, WorkerId: p.workerID, LastPollTime: p.lastPoll}, k.emptyDomain})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].QueueName != out[j].QueueName {
			return out[i].QueueName < out[j].QueueName
		}
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].emptyDomain && !out[j].emptyDomain
	})
	return out
}

// handleSearch answers the search endpoints as Conductor OSS does with
// indexing off (its default): nothing is ever found.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	// 3.32's SQLite index parses the query and refuses what is not one
	// (e.g. a bare word); 3.21 without indexing ignores it. There is no
	// index here: a well-formed query finds nothing.
	if q := r.URL.Query().Get("query"); q != "" && !s.is321() && !searchQueryRE.MatchString(q) {
		s.writeError(w, badRequest("Incorrectly formatted query string: %s", q))
		return
	}
	writeRaw(w, http.StatusOK, "application/json", []byte(`{"totalHits":0,"results":[]}`))
}

// handleRequeue is POST /api/tasks/queue/requeue/{tasktype}: every pending
// task of the type is pushed to its queue again (IN_PROGRESS ones too, so
// they are handed out again), due after what is left of its callback. The
// answer is the count, as text.
func (s *Server) handleRequeue(w http.ResponseWriter, r *http.Request) {
	taskType := r.PathValue("tasktype")
	now := s.now()
	ms := nowMs(now)
	n := 0
	s.mu.Lock()
	for _, t := range s.tasks {
		if t.m.TaskType != taskType || t.m.Status.Terminal() || t.wf.m.Status.Terminal() {
			continue
		}
		left := max(t.m.CallbackAfterSeconds, 0) - (ms-t.m.UpdateTime)/1000
		s.push(t, time.Duration(max(left, 0))*time.Second, now)
		n++
	}
	s.mu.Unlock()
	writeText(w, strconv.Itoa(n))
}
