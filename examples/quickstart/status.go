package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

// statusTracker follows the started workflows on the server until each has
// ended, and collects the latency of their tasks from the server's own
// timestamps once they have.
type statusTracker struct {
	wf  *executor.WorkflowExecutor
	lat latencies

	mu     sync.Mutex
	ids    []string
	final  map[string]model.WorkflowStatus // workflows that have ended
	hinted map[string]bool                 // workflows that may have ended
}

func newStatusTracker(c *client.APIClient) *statusTracker {
	return &statusTracker{wf: executor.NewWorkflowExecutor(c), final: map[string]model.WorkflowStatus{}, hinted: map[string]bool{}}
}

const (
	// checkParallelism bounds concurrent status requests, to be gentle with
	// a shared server.
	checkParallelism = 8
	// sweepEvery is how often every unfinished workflow is checked, to catch
	// endings no hint announced (a timeout on the server, say). In between,
	// only hinted workflows are checked, which keeps the request rate low on
	// a real server.
	sweepEvery = 2 * time.Second
)

// track adds started workflows.
func (s *statusTracker) track(ids []string) {
	s.mu.Lock()
	s.ids = append(s.ids, ids...)
	s.mu.Unlock()
}

// hint marks a workflow as worth checking at the next refresh: its last step
// finished, or a step failed.
func (s *statusTracker) hint(workflowID string) {
	s.mu.Lock()
	s.hinted[workflowID] = true
	s.mu.Unlock()
}

// wait refreshes the workflow states every `every` and calls tick after each
// refresh, until every workflow has ended, ctx ends, or timeout passes. It
// returns an error only for the timeout; ctx's end is the caller's to report.
func (s *statusTracker) wait(ctx context.Context, timeout, every time.Duration, tick func()) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	t := time.NewTicker(every)
	defer t.Stop()
	// No workflow can have ended at the very start: the first sweep waits.
	lastSweep := time.Now()
	for {
		sweep := time.Since(lastSweep) >= sweepEvery
		if sweep {
			lastSweep = time.Now()
		}
		s.refresh(ctx, sweep)
		tick()
		if s.pendingCount() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-deadline.C:
			return fmt.Errorf("%d workflows still running after %s (-timeout)", s.pendingCount(), timeout)
		case <-t.C:
		}
	}
}

// pending returns the workflows that have not ended, all of them or only
// the hinted ones; it clears the hints it returns.
func (s *statusTracker) pending(all bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.ids {
		if _, done := s.final[id]; !done && (all || s.hinted[id]) {
			out = append(out, id)
			delete(s.hinted, id)
		}
	}
	return out
}

func (s *statusTracker) pendingCount() int { return len(s.pending(true)) }

// refresh asks the server about the workflows that have not ended yet (all,
// or only hinted ones). A failed request leaves the workflow pending; a later
// sweep asks again.
func (s *statusTracker) refresh(ctx context.Context, all bool) {
	var g errgroup.Group
	g.SetLimit(checkParallelism)
	for _, id := range s.pending(all) {
		g.Go(func() error {
			// The status alone first: a workflow with its tasks is several
			// times larger, and most checks find it still running.
			wf, err := s.wf.GetWorkflowContext(ctx, id, false)
			if err != nil || !wf.Status.Terminal() {
				return nil
			}
			if full, err := s.wf.GetWorkflowContext(ctx, id, true); err == nil {
				wf = full
			}
			s.record(wf)
			return nil
		})
	}
	_ = g.Wait()
}

// record notes that wf has ended and adds the latency of its tasks. The
// latency of a task is the time from its scheduling to its result being
// recorded, both by the server's clock. Attempts that waited on purpose (a
// retry's delay, IN_PROGRESS callbacks) are left out: they measure the
// configured delays, not the workers.
func (s *statusTracker) record(wf *model.Workflow) {
	s.mu.Lock()
	_, seen := s.final[wf.WorkflowId]
	s.final[wf.WorkflowId] = wf.Status
	s.mu.Unlock()
	if seen {
		return
	}
	for _, t := range wf.Tasks {
		if t.EndTime == 0 || t.ScheduledTime == 0 || t.RetryCount > 0 || t.StartDelayInSeconds > 0 || t.PollCount > 1 {
			continue
		}
		s.lat.add(time.Duration(t.EndTime-t.ScheduledTime) * time.Millisecond)
	}
}

// counts returns how the started workflows ended so far.
func (s *statusTracker) counts() (completed, failed, unfinished int, failedIDs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.ids {
		st, done := s.final[id]
		switch {
		case !done:
			unfinished++
		case st == model.WorkflowCompleted:
			completed++
		default:
			failed++
			failedIDs = append(failedIDs, fmt.Sprintf("%s (%s)", id, st))
		}
	}
	return completed, failed, unfinished, failedIDs
}

func (s *statusTracker) snapshot(tasks int, elapsed time.Duration) snapshot {
	completed, failed, unfinished, _ := s.counts()
	total := completed + failed + unfinished
	return snapshot{total: total, expected: total * tasksPerWorkflow, completed: completed, failed: failed, tasks: tasks, elapsed: elapsed}
}
