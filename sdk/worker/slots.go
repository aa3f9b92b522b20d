package worker

import (
	"context"
	"sync"

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

	// idleSlots are the slot goroutines waiting for a task; pollerDone is
	// closed when the poller's loop has ended, and ends every idle one.
	idleSlots  idleSlots
	pollerDone chan struct{}
}

// dispatch runs each task in a slot: an idle slot goroutine takes it, or a
// new one starts. A server may hand out more tasks than asked for: all of
// them run (the slots count goes above the batch size for a while) and the
// next poll waits until enough have finished.
// traces holds the tasks' spans (polled), nil when tracing is off.
//
// Slot goroutines are kept between tasks (at most as many idle as the
// worker has slots) because a goroutine started per task grows its stack
// anew for every task (the handler, JSON encoding and the HTTP exchange need
// several kilobytes). Only the poller's goroutine calls dispatch; idle slot
// goroutines end when it ends (pollerDone), so that WaitWorkers and
// Shutdown wait for nothing idle.
func (tw *taskWorker) dispatch(tasks []model.Task, traces []*taskTrace) {
	n := tw.stats.started(len(tasks))
	tw.rec.SlotsChanged(tw.key.taskType, int(n), max(0, int(tw.current().slots-n)))
	for i := range tasks {
		j := &job{task: &tasks[i]}
		if traces != nil {
			j.trace = traces[i]
		}
		if next := tw.idleSlots.pop(); next != nil {
			next <- j // buffered: the slot takes it when it gets there
			continue
		}
		tw.running.add()
		go tw.slotLoop(j)
	}
}

// slotLoop runs j, then waits as an idle slot for the next job dispatch
// hands it, until the poller ends or enough other slots are idle.
func (tw *taskWorker) slotLoop(j *job) {
	defer tw.running.done()
	next := make(chan *job, 1)
	for {
		tw.runJobs(j, nil)
		// On the idle list before the slot is freed and the poller told: by
		// the time the poller can dispatch again, this slot is there.
		parked := tw.idleSlots.push(next, int(tw.current().slots))
		tw.freeSlot()
		if !parked {
			return
		}
		select {
		case j = <-next:
		case <-tw.pollerDone:
			// The last dispatch may have handed this slot a job just
			// before the poller ended (it happened before the close).
			select {
			case j = <-next:
			default:
				return
			}
		}
	}
}

// idleSlots is the list of slot goroutines waiting for a job, each by the
// channel it receives on.
type idleSlots struct {
	mu   sync.Mutex
	list []chan *job
}

// push adds an idle slot unless max are idle already; it reports whether
// it did.
func (s *idleSlots) push(next chan *job, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) >= max {
		return false
	}
	s.list = append(s.list, next)
	return true
}

// pop takes the slot that went idle last (its stack is the warmest), or
// returns nil.
func (s *idleSlots) pop() chan *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) == 0 {
		return nil
	}
	next := s.list[len(s.list)-1]
	s.list[len(s.list)-1] = nil
	s.list = s.list[:len(s.list)-1]
	return next
}

// runSlotFrom runs a slot of its own that first delivers a result of its
// own (a task refused because it cannot be decoded, undecodable.go).
func (tw *taskWorker) runSlotFrom(first *model.TaskResult) {
	defer tw.running.done()
	tw.runJobs(nil, first)
	tw.freeSlot()
}

// runJobs runs a task and reports its result; when the report hands back the
// next task (update-v2), it runs that one too. With first set it delivers
// that result before anything else. The caller then frees the slot.
func (tw *taskWorker) runJobs(j *job, first *model.TaskResult) {
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
}

// freeSlot gives back a slot whose task chain is done and tells the poller.
func (tw *taskWorker) freeSlot() {
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
