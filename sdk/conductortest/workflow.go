package conductortest

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/baton-go/baton/internal/uuid"
	"github.com/baton-go/baton/sdk/model"
)

// task is the server's record of one task execution. Guarded by Server.mu.
type task struct {
	m     model.Task
	wf    *workflow
	wt    *model.WorkflowTask // snapshot, with the effective TaskDef embedded
	def   *model.TaskDef      // effective definition (registered or ad hoc)
	queue string

	queued bool
	qgen   uint64
	timer  *timerEntry

	// extIn, extOut: the keys of the input and output in the external
	// payload store when they are kept there (payload.go); the full data
	// stays in m, and snapshot sends the key instead.
	extIn, extOut string
}

// workflow is the server's record of one workflow execution.
type workflow struct {
	m     model.Workflow // Tasks is always nil here; see tasks
	def   *model.WorkflowDef
	tasks []*task
	pos   int // index in def.Tasks of the current step
	timer *timerEntry

	snap *defSnap

	extIn, extOut string // as task's
}

// defSnap is a workflow definition as executions use it (TaskDefs embedded)
// plus the lazily encoded JSON of each step, shared by every execution
// started from the same registered definition while no definition changes.
type defSnap struct {
	def   *model.WorkflowDef
	steps []stepEnc
}

type taskDefEntry struct{ def model.TaskDef }
type wfDefEntry struct{ def model.WorkflowDef }

// pollKey names a polled queue; emptyDomain marks a poll with "domain="
// (present but empty), which the real server keeps apart from no domain.
type pollKey struct {
	taskType, domain string
	emptyDomain      bool
}

type pollEntry struct {
	workerID string
	lastPoll int64
}

type taskLog struct {
	log     string
	created int64
}

// adHocTaskDef is what the server uses for a SIMPLE task without a registered
// definition.
func adHocTaskDef(name string) model.TaskDef {
	return model.TaskDef{
		Name:                        name,
		RetryCount:                  3,
		RetryDelaySeconds:           60,
		RetryLogic:                  model.RetryFixed,
		ResponseTimeoutSeconds:      3600,
		TimeoutPolicy:               model.TimeoutPolicyTimeOutWF,
		RateLimitFrequencyInSeconds: 1,
		BackoffScaleFactor:          1,
		InputKeys:                   []string{},
		OutputKeys:                  []string{},
		InputTemplate:               map[string]any{},
	}
}

// startWorkflow creates and starts an execution of def. Caller holds s.mu.
func (s *Server) startWorkflow(def *model.WorkflowDef, registered bool, req *model.StartWorkflowRequest, now time.Time) *workflow {
	ds := s.snapCache[def]
	if ds == nil {
		ds = &defSnap{def: s.snapshotDef(def)}
		ds.steps = make([]stepEnc, len(ds.def.Tasks))
		if registered {
			s.snapCache[def] = ds
		}
	}
	snap := ds.def
	input := req.Input
	if input == nil {
		input = map[string]any{}
	}
	ms := nowMs(now)
	wf := &workflow{def: snap, snap: ds}
	wf.m = model.Workflow{
		WorkflowId:      newID(),
		WorkflowName:    snap.Name,
		WorkflowVersion: snap.Version,
		Status:          model.WorkflowRunning,
		CreateTime:      ms,
		StartTime:       ms,
		UpdateTime:      ms,
		Input:           input,
		Output:          map[string]any{},
		CorrelationId:   req.CorrelationId,
		TaskToDomain:    req.TaskToDomain,
		Priority:        req.Priority,
		Variables:       snap.Variables,
	}
	if wf.m.Variables == nil {
		wf.m.Variables = map[string]any{}
	}
	s.workflows[wf.m.WorkflowId] = wf
	s.stats.workflowsStarted.Add(1)
	if snap.TimeoutSeconds > 0 && snap.TimeoutPolicy == model.TimeoutPolicyTimeOutWF {
		s.setTimer(&wf.timer, now.Add(time.Duration(snap.TimeoutSeconds)*time.Second).UnixNano(), nil, wf)
	}
	s.scheduleStep(wf, 0, now)
	return wf
}

// snapshotDef copies def and embeds the effective TaskDef into every SIMPLE
// task, so later registry changes do not affect the running workflow.
func (s *Server) snapshotDef(def *model.WorkflowDef) *model.WorkflowDef {
	snap := *def
	snap.Tasks = make([]model.WorkflowTask, len(def.Tasks))
	for i, wt := range def.Tasks {
		if wt.TaskDefinition == nil {
			var td model.TaskDef
			if e := s.taskDefs[wt.Name]; e != nil {
				td = e.def
			} else {
				td = adHocTaskDef(wt.Name)
			}
			wt.TaskDefinition = &td
		}
		if wt.Type == "" {
			wt.Type = model.TaskTypeSimple
		}
		snap.Tasks[i] = wt
	}
	return &snap
}

// scheduleStep schedules def.Tasks[pos], or completes the workflow when pos
// is past the end.
func (s *Server) scheduleStep(wf *workflow, pos int, now time.Time) {
	wf.pos = pos
	if pos >= len(wf.def.Tasks) {
		s.endWorkflow(wf, model.WorkflowCompleted, "", now)
		return
	}
	wt := &wf.def.Tasks[pos]
	s.scheduleTask(wf, wt, 0, "", time.Duration(wt.StartDelay)*time.Second, now)
}

func (s *Server) scheduleTask(wf *workflow, wt *model.WorkflowTask, retryCount int, retriedID string, delay time.Duration, now time.Time) *task {
	def := wt.TaskDefinition
	ms := nowMs(now)
	input := s.evalMap(wf, wt.InputParameters)
	for k, v := range def.InputTemplate {
		if _, ok := input[k]; !ok {
			input[k] = v
		}
	}
	t := &task{wf: wf, wt: wt, def: def}
	t.m = model.Task{
		TaskType:                    wt.Name,
		Status:                      model.TaskScheduled,
		InputData:                   input,
		ReferenceTaskName:           wt.TaskReferenceName,
		RetryCount:                  retryCount,
		Seq:                         len(wf.tasks) + 1,
		CorrelationId:               wf.m.CorrelationId,
		TaskDefName:                 def.Name,
		ScheduledTime:               ms, // updateTime stays 0 until polled or updated
		StartDelayInSeconds:         int(delay / time.Second),
		RetriedTaskId:               retriedID,
		CallbackFromWorker:          true,
		ResponseTimeoutSeconds:      def.ResponseTimeoutSeconds,
		WorkflowInstanceId:          wf.m.WorkflowId,
		WorkflowType:                wf.m.WorkflowName,
		TaskId:                      newID(),
		CallbackAfterSeconds:        int64(delay / time.Second),
		OutputData:                  map[string]any{},
		WorkflowTask:                wt,
		Domain:                      s.taskDomain(wf, wt.Name, now),
		RateLimitPerFrequency:       def.RateLimitPerFrequency,
		RateLimitFrequencyInSeconds: def.RateLimitFrequencyInSeconds,
		WorkflowPriority:            wf.m.Priority,
		ExecutionNameSpace:          def.ExecutionNameSpace,
		IsolationGroupId:            def.IsolationGroupId,
		TaskDefinition:              def,
	}
	if t.m.TaskDefName == "" {
		t.m.TaskDefName = wt.Name
	}
	t.extIn = s.externalize(input, s.opts.payloadLimits.TaskInput)
	t.queue = queueName(t.m.TaskType, t.m.Domain)
	wf.tasks = append(wf.tasks, t)
	s.tasks[t.m.TaskId] = t
	s.stats.tasksScheduled.Add(1)
	s.push(t, delay, now)
	s.armTask(t, now)
	return t
}

// taskDomain picks the domain for a task per the workflow's taskToDomain.
func (s *Server) taskDomain(wf *workflow, taskType string, now time.Time) string {
	m := wf.m.TaskToDomain
	if len(m) == 0 {
		return ""
	}
	v, ok := m[taskType]
	if !ok {
		v, ok = m["*"]
	}
	if !ok || v == "" {
		return ""
	}
	domains := strings.Split(v, ",")
	cutoff := nowMs(now) - 10_000
	for _, d := range domains {
		d = strings.TrimSpace(d)
		if strings.EqualFold(d, "NO_DOMAIN") {
			continue
		}
		if p, ok := s.pollData[pollKey{taskType: taskType, domain: d}]; ok && p.lastPoll >= cutoff {
			return d
		}
	}
	last := strings.TrimSpace(domains[len(domains)-1])
	if strings.EqualFold(last, "NO_DOMAIN") {
		return ""
	}
	return last
}

// setStatus changes a task's status and keeps the per-definition count of
// IN_PROGRESS tasks (used by concurrentExecLimit) right.
func (s *Server) setStatus(t *task, st model.TaskStatus) {
	if t.m.Status == st {
		return
	}
	if t.m.Status == model.TaskInProgress {
		s.running[t.m.TaskDefName]--
	}
	if st == model.TaskInProgress {
		s.running[t.m.TaskDefName]++
	}
	t.m.Status = st
}

// armTask (re)places the task's single timer entry at its earliest deadline.
func (s *Server) armTask(t *task, now time.Time) {
	at := s.taskDeadline(t)
	s.setTimer(&t.timer, at, t, nil)
}

// taskDeadline returns the earliest pending deadline of t (unix ns), or 0.
func (s *Server) taskDeadline(t *task) int64 {
	if t.m.Status.Terminal() || t.wf.m.Status.Terminal() {
		return 0
	}
	var at int64
	consider := func(ms int64) {
		ns := ms * int64(time.Millisecond)
		if at == 0 || ns < at {
			at = ns
		}
	}
	def := t.def
	if t.m.Status == model.TaskInProgress && t.m.ResponseTimeoutSeconds > 0 {
		consider(t.m.UpdateTime + (t.m.ResponseTimeoutSeconds+t.m.CallbackAfterSeconds)*1000)
	}
	if def.TimeoutSeconds > 0 && t.m.StartTime > 0 && def.TimeoutPolicy != model.TimeoutPolicyAlertOnly {
		consider(t.m.StartTime + int64(t.m.StartDelayInSeconds)*1000 + def.TimeoutSeconds*1000)
	}
	if def.PollTimeoutSeconds > 0 && t.m.Status == model.TaskScheduled && def.TimeoutPolicy != model.TimeoutPolicyAlertOnly {
		consider(t.m.ScheduledTime + (int64(def.PollTimeoutSeconds)+t.m.CallbackAfterSeconds)*1000)
	}
	return at
}

// checkTaskTimeouts runs when t's timer fires. The order of the checks is
// the decider's: total timeout, poll timeout, response timeout.
func (s *Server) checkTaskTimeouts(t *task, now time.Time) {
	if t.m.Status.Terminal() || t.wf.m.Status.Terminal() {
		return
	}
	ms := nowMs(now)
	def := t.def
	alertOnly := def.TimeoutPolicy == model.TimeoutPolicyAlertOnly
	switch {
	case def.TimeoutSeconds > 0 && t.m.StartTime > 0 && !alertOnly &&
		ms >= t.m.StartTime+int64(t.m.StartDelayInSeconds)*1000+def.TimeoutSeconds*1000:
		reason := fmt.Sprintf("Task timed out after %d seconds. Timeout configured as %d seconds. Timeout policy configured to %s",
			(ms-t.m.StartTime)/1000, def.TimeoutSeconds, def.TimeoutPolicy)
		s.timeOutTask(t, reason, def.TimeoutPolicy == model.TimeoutPolicyRetry, now)
		return
	case def.PollTimeoutSeconds > 0 && t.m.Status == model.TaskScheduled && !alertOnly &&
		ms >= t.m.ScheduledTime+(int64(def.PollTimeoutSeconds)+t.m.CallbackAfterSeconds)*1000:
		reason := fmt.Sprintf("Task poll timed out after %d seconds. Poll timeout configured as %d seconds. Timeout policy configured to %s",
			(ms-t.m.ScheduledTime)/1000, def.PollTimeoutSeconds, def.TimeoutPolicy)
		s.timeOutTask(t, reason, def.TimeoutPolicy == model.TimeoutPolicyRetry, now)
		return
	case t.m.Status == model.TaskInProgress && t.m.ResponseTimeoutSeconds > 0 &&
		ms >= t.m.UpdateTime+(t.m.ResponseTimeoutSeconds+t.m.CallbackAfterSeconds)*1000:
		reason := fmt.Sprintf("responseTimeout: %d exceeded for the taskId: %s with Task Definition: %s",
			t.m.ResponseTimeoutSeconds, t.m.TaskId, t.m.TaskDefName)
		s.timeOutTask(t, reason, true, now)
		return
	}
	s.armTask(t, now)
}

// timeOutTask marks t TIMED_OUT. With retry it goes through the retry logic
// (and may fail the workflow when no retry is left); without, the workflow
// times out (TIME_OUT_WF).
func (s *Server) timeOutTask(t *task, reason string, retry bool, now time.Time) {
	ms := nowMs(now)
	s.dequeue(t)
	s.setStatus(t, model.TaskTimedOut)
	t.m.ReasonForIncompletion = reason
	t.m.EndTime = ms
	t.m.UpdateTime = ms
	s.setTimer(&t.timer, 0, nil, nil)
	s.stats.timeouts.Add(1)
	if retry {
		s.afterTaskEnded(t, now)
		return
	}
	// TIME_OUT_WF: the decider ends the workflow with the timeout text
	// itself as the reason (not "Task ... failed with status ...").
	wf := t.wf
	wf.m.FailedReferenceTaskNames = appendUnique(wf.m.FailedReferenceTaskNames, t.m.ReferenceTaskName)
	wf.m.FailedTaskNames = appendUnique(wf.m.FailedTaskNames, t.m.TaskDefName)
	s.endWorkflow(wf, model.WorkflowTimedOut, reason, now)
}

func (s *Server) checkWorkflowTimeout(wf *workflow, now time.Time) {
	if wf.m.Status.Terminal() {
		return
	}
	limit := wf.def.TimeoutSeconds
	s.endWorkflow(wf, model.WorkflowTimedOut,
		fmt.Sprintf("Workflow timed out after %d seconds. Timeout configured as %d seconds. Timeout policy configured to %s",
			(nowMs(now)-wf.m.StartTime)/1000, limit, wf.def.TimeoutPolicy), now)
}

// afterTaskEnded evaluates the workflow after t reached a terminal status.
func (s *Server) afterTaskEnded(t *task, now time.Time) {
	wf := t.wf
	if wf.m.Status.Terminal() {
		return
	}
	switch t.m.Status {
	case model.TaskCompleted, model.TaskCompletedWithErrors, model.TaskSkipped:
		s.scheduleStep(wf, wf.pos+1, now)
		return
	}
	allowed := t.def.RetryCount
	if t.wt.RetryCount != nil {
		allowed = *t.wt.RetryCount
	}
	if t.m.Status.Retriable() && t.m.RetryCount < allowed {
		t.m.Retried = true
		delay := retryDelay(t.def, t.m.RetryCount)
		s.stats.retries.Add(1)
		s.scheduleTask(wf, t.wt, t.m.RetryCount+1, t.m.TaskId, delay, now)
		return
	}
	if t.wt.Optional {
		s.setStatus(t, model.TaskCompletedWithErrors)
		s.scheduleStep(wf, wf.pos+1, now)
		return
	}
	st := model.WorkflowFailed
	switch t.m.Status {
	case model.TaskTimedOut:
		st = model.WorkflowTimedOut
	case model.TaskCanceled:
		st = model.WorkflowTerminated
	}
	s.failWorkflow(t, st, now)
}

func (s *Server) failWorkflow(t *task, st model.WorkflowStatus, now time.Time) {
	wf := t.wf
	wf.m.FailedReferenceTaskNames = appendUnique(wf.m.FailedReferenceTaskNames, t.m.ReferenceTaskName)
	wf.m.FailedTaskNames = appendUnique(wf.m.FailedTaskNames, t.m.TaskDefName)
	reason := fmt.Sprintf("Task %s failed with status: %s and reason: '%s'", t.m.TaskId, st, t.m.ReasonForIncompletion)
	s.endWorkflow(wf, st, reason, now)
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// retryDelay computes the delay before retry number n+1.
func retryDelay(def *model.TaskDef, n int) time.Duration {
	base := int64(def.RetryDelaySeconds)
	var secs int64
	switch def.RetryLogic {
	case model.RetryExponentialBackoff:
		if n >= 62 {
			secs = math.MaxInt32
		} else {
			secs = base << uint(n)
			if secs > math.MaxInt32 || (base != 0 && secs>>uint(n) != base) {
				secs = math.MaxInt32
			}
		}
	case model.RetryLinearBackoff:
		f := int64(def.BackoffScaleFactor)
		if f < 1 {
			f = 1
		}
		secs = base * f * int64(n+1)
	default:
		secs = base
	}
	return time.Duration(secs) * time.Second
}

// endWorkflow moves wf to a terminal status: non-terminal tasks are canceled
// and dequeued and the output is computed.
func (s *Server) endWorkflow(wf *workflow, st model.WorkflowStatus, reason string, now time.Time) {
	ms := nowMs(now)
	wasTerminal := wf.m.Status.Terminal()
	for _, t := range wf.tasks {
		if !t.m.Status.Terminal() {
			s.dequeue(t)
			s.setStatus(t, model.TaskCanceled)
			t.m.EndTime = ms
			t.m.UpdateTime = ms
		}
		s.setTimer(&t.timer, 0, nil, nil)
	}
	wf.m.Status = st
	wf.m.ReasonForIncompletion = reason
	wf.m.EndTime = ms
	wf.m.UpdateTime = ms
	wf.m.Output = s.workflowOutput(wf)
	wf.extOut = s.externalize(wf.m.Output, s.opts.payloadLimits.WorkflowOutput)
	s.setTimer(&wf.timer, 0, nil, nil)
	switch {
	case wasTerminal:
	case st == model.WorkflowCompleted:
		s.stats.workflowsCompleted.Add(1)
	default:
		s.stats.workflowsFailed.Add(1)
	}
	close(s.wfChanged)
	s.wfChanged = make(chan struct{})
}

func (s *Server) workflowOutput(wf *workflow) map[string]any {
	if len(wf.def.OutputParameters) > 0 {
		return s.evalMap(wf, wf.def.OutputParameters)
	}
	if n := len(wf.tasks); n > 0 {
		if out := wf.tasks[n-1].m.OutputData; out != nil {
			return out
		}
	}
	return map[string]any{}
}

// snapshotWorkflow copies wf for encoding outside the lock.
func (wf *workflow) snapshot(includeTasks bool) model.Workflow {
	m := wf.m
	m.WorkflowDefinition = wf.def
	m.Tasks = []model.Task{}
	if includeTasks {
		m.Tasks = make([]model.Task, len(wf.tasks))
		for i, t := range wf.tasks {
			m.Tasks[i] = t.snapshot()
		}
	}
	if wf.extIn != "" {
		m.Input, m.ExternalInputPayloadStoragePath = map[string]any{}, wf.extIn
	}
	if wf.extOut != "" {
		m.Output, m.ExternalOutputPayloadStoragePath = map[string]any{}, wf.extOut
	}
	m.FailedReferenceTaskNames = append([]string(nil), m.FailedReferenceTaskNames...)
	m.FailedTaskNames = append([]string(nil), m.FailedTaskNames...)
	return m
}

// snapshot copies t for encoding outside the lock. Maps are never modified in
// place after being stored, so a shallow copy is safe.
func (t *task) snapshot() model.Task {
	m := t.m
	if m.StartTime > 0 {
		m.QueueWaitTime = m.StartTime - m.ScheduledTime
	}
	if m.OutputData == nil {
		m.OutputData = map[string]any{}
	}
	if t.extIn != "" {
		m.InputData, m.ExternalInputPayloadStoragePath = map[string]any{}, t.extIn
	}
	if t.extOut != "" {
		m.OutputData, m.ExternalOutputPayloadStoragePath = map[string]any{}, t.extOut
	}
	return m
}

// newID returns a random UUID v4 string.
func newID() string { return uuid.NewV4() }
