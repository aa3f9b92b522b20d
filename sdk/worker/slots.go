package worker

import (
	"context"

	"github.com/baton-go/baton/sdk/model"
)

// taskWorker is one started worker (a task type in a domain): its state and
// the three parts that serve it. The poller fills slots; each slot is a
// goroutine that runs one task through the executor and hands the result to
// the reporter, and runs the next task when update-v2 hands one back.
type taskWorker struct {
	*workerState
	poller   *poller
	executor *executor
	reporter *reporter

	rec      Recorder
	hooks    Hooks
	workerID string
	running  *tracker        // the runner's: every goroutine it waits for
	work     context.Context // the runner's work context (handlers, deliveries)
}

// dispatch starts one slot per task. A server may hand out more tasks than
// asked for: all of them run (the slots count goes above the batch size for
// a while) and the next poll waits until enough have finished.
// traces holds the tasks' spans (polled), nil when tracing is off.
func (tw *taskWorker) dispatch(tasks []model.Task, traces []*taskTrace) {
	n := tw.stats.started(len(tasks))
	tw.rec.SlotsChanged(tw.key.taskType, int(n), max(0, int(tw.current().slots-n)))
	for i := range tasks {
		j := &job{task: &tasks[i]}
		if traces != nil {
			j.trace = traces[i]
		}
		tw.running.add()
		go tw.runSlot(j)
	}
}

// runSlot runs a task and reports its result; when the report hands back the
// next task (update-v2), the slot runs that one too.
func (tw *taskWorker) runSlot(j *job) { tw.runSlotFrom(j, nil) }

// runSlotFrom is runSlot for a slot that first delivers a result of its
// own (a task refused because it cannot be decoded, undecodable.go).
func (tw *taskWorker) runSlotFrom(j *job, first *model.TaskResult) {
	defer tw.running.done()
	if first != nil {
		tw.setActive(first.TaskId, true)
		start := tw.reporter.clock.Now()
		end := tw.reporter.deliver(tw.work, first)
		tw.setActive(first.TaskId, false)
		j = tw.reporter.nextJob(end.next, start)
		if j != nil {
			tw.stats.continued()
		}
	}
	for j != nil {
		tw.setActive(j.task.TaskId, true)
		tw.executor.execute(tw.work, j)
		next := tw.reporter.report(tw.work, j)
		tw.setActive(j.task.TaskId, false)
		j = next
		if j != nil {
			tw.stats.continued()
		}
	}
	n := tw.stats.ended()
	tw.rec.SlotsChanged(tw.key.taskType, int(n), max(0, int(tw.current().slots-n)))
	tw.signal()
}

// setPaused pauses or resumes polling.
func (tw *taskWorker) setPaused(paused bool) {
	before, _ := tw.change(func(s *workerSettings) { s.paused = paused })
	if before.paused == paused {
		return
	}
	tw.rec.PausedChanged(tw.key.taskType, paused)
	if paused {
		tw.log.Info("worker: paused")
	} else {
		tw.log.Info("worker: resumed")
	}
}
