package conductortest

import (
	"context"
	"sort"
	"sync/atomic"

	"github.com/baton-go/baton/sdk/model"
)

type counters struct {
	polls, emptyPolls, handedOut, updates, updatesToTerminal, extendLeases atomic.Int64
	tasksScheduled, retries, timeouts, postponed                           atomic.Int64
	workflowsStarted, workflowsCompleted, workflowsFailed                  atomic.Int64
}

// Stats are running totals since the server started.
type Stats struct {
	Polls             int64 // poll requests (single, batch and the poll of update-v2)
	EmptyPolls        int64 // polls that handed out nothing
	TasksHandedOut    int64 // tasks returned by polls
	Updates           int64 // task updates received (valid bodies)
	UpdatesToTerminal int64 // updates ignored because the task or workflow had ended
	ExtendLeases      int64 // extendLease updates
	TasksScheduled    int64 // tasks created, retries included
	Retries           int64 // retry tasks created
	Timeouts          int64 // tasks timed out by the server
	Postponed         int64 // tasks held back by concurrentExecLimit or rateLimitPerFrequency
	WorkflowsStarted  int64
	WorkflowsComplete int64
	WorkflowsFailed   int64 // ended FAILED, TIMED_OUT or TERMINATED
	TokensIssued      int64
	TokensRejected    int64 // requests refused for a missing, invalid or expired token
	// MaxConcurrentTokenRequests is the largest number of token requests
	// seen in flight at once; TokenRequestsInFlight is the current number.
	MaxConcurrentTokenRequests int64
	TokenRequestsInFlight      int64

	// Faults injected with SetFaults and Down.
	InjectedErrors     int64 // error answers (Fault.ErrorRate)
	DelayedRequests    int64 // requests delayed by Fault.Latency
	DroppedAnswers     int64 // processed requests whose connection was closed (Fault.DropRate)
	MalformedAnswers   int64 // processed requests with a mangled answer (Fault.MalformedRate)
	OverDeliveredPolls int64 // batch polls allowed to exceed their count (Fault.ExtraTasks)
	Downs              int64 // times the server went down
}

// Stats returns the server's counters, injected faults included.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		Polls: c.polls.Load(), EmptyPolls: c.emptyPolls.Load(), TasksHandedOut: c.handedOut.Load(),
		Updates: c.updates.Load(), UpdatesToTerminal: c.updatesToTerminal.Load(), ExtendLeases: c.extendLeases.Load(),
		TasksScheduled: c.tasksScheduled.Load(), Retries: c.retries.Load(), Timeouts: c.timeouts.Load(),
		Postponed: c.postponed.Load(), WorkflowsStarted: c.workflowsStarted.Load(),
		WorkflowsComplete: c.workflowsCompleted.Load(), WorkflowsFailed: c.workflowsFailed.Load(),
	}
	f := &s.faultCounts
	st.InjectedErrors, st.DelayedRequests, st.DroppedAnswers = f.errors.Load(), f.delayed.Load(), f.dropped.Load()
	st.MalformedAnswers, st.OverDeliveredPolls, st.Downs = f.malformed.Load(), f.overDelivery.Load(), f.downs.Load()
	if a := s.auth; a != nil {
		st.TokensIssued = a.issued.Load()
		st.TokensRejected = a.rejected.Load()
		st.MaxConcurrentTokenRequests = a.maxInflight.Load()
		st.TokenRequestsInFlight = a.inflight.Load()
	}
	return st
}

// Updates returns every update received for taskID, in arrival order
// (ignored and rejected-as-unknown ones included). With taskID "" it
// returns the updates of every task, by task id and then in arrival order;
// each result's TaskId says whose it is.
func (s *Server) Updates(taskID string) []model.TaskResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := []string{taskID}
	if taskID == "" {
		ids = make([]string, 0, len(s.updates))
		for id := range s.updates {
			ids = append(ids, id)
		}
		sort.Strings(ids)
	}
	out := []model.TaskResult{}
	for _, id := range ids {
		for _, r := range s.updates[id] {
			out = append(out, r.res)
		}
	}
	return out
}

// Task returns a copy of the task with this id.
func (s *Server) Task(id string) (model.Task, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id]
	if t == nil {
		return model.Task{}, false
	}
	return t.snapshot(), true
}

// TasksByStatus returns the tasks in this status ("" = all), ordered by
// workflow id, then sequence.
func (s *Server) TasksByStatus(status model.TaskStatus) []model.Task {
	s.mu.Lock()
	var out []model.Task
	for _, t := range s.tasks {
		if status == "" || t.m.Status == status {
			out = append(out, t.snapshot())
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].WorkflowInstanceId != out[j].WorkflowInstanceId {
			return out[i].WorkflowInstanceId < out[j].WorkflowInstanceId
		}
		return out[i].Seq < out[j].Seq
	})
	return out
}

// Workflow returns a copy of the workflow execution, with its tasks.
func (s *Server) Workflow(id string) (model.Workflow, bool) { return s.workflowSnapshot(id, true) }

// WorkflowsByStatus returns the workflows in this status ("" = all), without
// their tasks.
func (s *Server) WorkflowsByStatus(status model.WorkflowStatus) []model.Workflow {
	s.mu.Lock()
	var out []model.Workflow
	for _, wf := range s.workflows {
		if status == "" || wf.m.Status == status {
			out = append(out, wf.snapshot(false))
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].CreateTime < out[j].CreateTime })
	return out
}

// QueueSize returns the number of messages in the queue of taskType in
// domain ("" = no domain), delayed ones included.
func (s *Server) QueueSize(taskType, domain string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queueSize(queueName(taskType, domain))
}

// WaitWorkflows blocks until every listed workflow has ended (or was
// removed), or ctx ends.
func (s *Server) WaitWorkflows(ctx context.Context, ids ...string) error {
	for {
		s.mu.Lock()
		pending := false
		for _, id := range ids {
			if wf := s.workflows[id]; wf != nil && !wf.m.Status.Terminal() {
				pending = true
				break
			}
		}
		ch := s.wfChanged
		s.mu.Unlock()
		if !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return errClosed
		case <-ch:
		}
	}
}
