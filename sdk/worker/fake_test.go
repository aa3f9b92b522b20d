package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-go/baton/sdk/metrics"
	"github.com/baton-go/baton/sdk/model"
)

// fakeAPI is an in-memory task server for unit tests: queues per
// [domain:]taskType, long polls that wake as soon as a task is pushed (or
// sleep the whole timeout when sleepy is set, like Conductor 3.21's Redis
// queue), every update recorded, and error injection.
type fakeAPI struct {
	mu      sync.Mutex
	queues  map[string][]model.Task
	notify  chan struct{} // closed and replaced on every push
	updates map[string][]model.TaskResult
	leases  map[string]int
	v2      bool // support update-v2
	sleepy  bool // long polls never wake early
	// leaseErr, when set, decides the outcome of the n-th extendLease
	// attempt of a task (from 1); leaseTries records when each came.
	leaseErr   func(n int) error
	leaseTries map[string][]time.Time
	extra      int // hand out this many tasks more than asked
	polls      []pollRequest
	pollErr    func(n int, req pollRequest) error     // n = poll number from 1
	updErr     func(n int, r *model.TaskResult) error // n = attempt for this task from 1
	attempts   map[string]int
	owner      map[string]string // task id -> queue it was handed out from
	pollHook   func(req pollRequest)
	v2calls    int
}

var _ taskAPI = (*fakeAPI)(nil)

func newFake() *fakeAPI {
	return &fakeAPI{
		queues:     map[string][]model.Task{},
		notify:     make(chan struct{}),
		updates:    map[string][]model.TaskResult{},
		leaseTries: map[string][]time.Time{},
		leases:     map[string]int{},
		attempts:   map[string]int{},
		owner:      map[string]string{},
	}
}

func queueName(taskType, domain string) string {
	if domain == "" {
		return taskType
	}
	return domain + ":" + taskType
}

func (f *fakeAPI) push(domain string, tasks ...model.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range tasks {
		q := queueName(t.TaskType, domain)
		t.Domain = domain
		f.queues[q] = append(f.queues[q], t)
	}
	close(f.notify)
	f.notify = make(chan struct{})
}

// makeTasks returns n tasks of taskType with ids prefix-0.. and input {"i": i}.
func makeTasks(taskType, prefix string, n int) []model.Task {
	ts := make([]model.Task, n)
	for i := range ts {
		ts[i] = model.Task{
			TaskType:           taskType,
			TaskId:             fmt.Sprintf("%s-%d", prefix, i),
			WorkflowInstanceId: "wf-" + prefix,
			ReferenceTaskName:  fmt.Sprintf("ref_%d", i),
			InputData:          map[string]interface{}{"i": float64(i)},
			Status:             model.TaskInProgress,
		}
	}
	return ts
}

func (f *fakeAPI) take(q string, n int) []model.Task {
	ts := f.queues[q]
	if n > len(ts) {
		n = len(ts)
	}
	out := append([]model.Task(nil), ts[:n]...)
	f.queues[q] = ts[n:]
	for _, t := range out {
		f.owner[t.TaskId] = q
	}
	return out
}

func (f *fakeAPI) batchPoll(ctx context.Context, req pollRequest) ([]model.Task, error) {
	f.mu.Lock()
	f.polls = append(f.polls, req)
	n := len(f.polls)
	hook, errf := f.pollHook, f.pollErr
	f.mu.Unlock()
	if hook != nil {
		hook(req)
	}
	if errf != nil {
		if err := errf(n, req); err != nil {
			return nil, err
		}
	}
	q := queueName(req.taskType, req.domain)
	var deadline <-chan time.Time
	if req.timeout > 0 {
		t := time.NewTimer(req.timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		f.mu.Lock()
		got := f.take(q, req.count+f.extra)
		wait, sleepy := f.notify, f.sleepy
		f.mu.Unlock()
		if sleepy && len(got) > 0 && len(got) < req.count && deadline != nil {
			// Conductor 3.21 holds a partial batch until the timeout ends,
			// then adds what became due meanwhile.
			select {
			case <-deadline:
			case <-ctx.Done():
				return got, nil
			}
			f.mu.Lock()
			got = append(got, f.take(q, req.count-len(got))...)
			f.mu.Unlock()
			return got, nil
		}
		if len(got) > 0 || deadline == nil {
			return got, nil
		}
		if sleepy {
			wait = nil // like Conductor 3.21: sleep the whole timeout
		}
		select {
		case <-wait:
		case <-deadline:
			if sleepy {
				f.mu.Lock()
				got = f.take(q, req.count+f.extra)
				f.mu.Unlock()
			}
			return got, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (f *fakeAPI) updateTask(ctx context.Context, r *model.TaskResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	if r.ExtendLease {
		f.leaseTries[r.TaskId] = append(f.leaseTries[r.TaskId], time.Now())
		if f.leaseErr != nil {
			if err := f.leaseErr(len(f.leaseTries[r.TaskId])); err != nil {
				f.mu.Unlock()
				return err
			}
		}
		f.leases[r.TaskId]++
		f.mu.Unlock()
		return nil
	}
	f.attempts[r.TaskId]++
	n, errf := f.attempts[r.TaskId], f.updErr
	f.mu.Unlock()
	// Outside the lock: an injected error function may sleep.
	if errf != nil {
		if err := errf(n, r); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.updates[r.TaskId] = append(f.updates[r.TaskId], *r)
	f.mu.Unlock()
	return nil
}

func (f *fakeAPI) updateTaskV2(ctx context.Context, r *model.TaskResult) (*model.Task, error) {
	f.mu.Lock()
	ok := f.v2
	f.v2calls++
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("POST /tasks/update-v2: 404: %w", errUpdateV2Unsupported)
	}
	if err := f.updateTask(ctx, r); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.take(f.owner[r.TaskId], 1)
	if len(got) == 0 {
		return nil, nil
	}
	return &got[0], nil
}

func (f *fakeAPI) resultsOf(id string) []model.TaskResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]model.TaskResult(nil), f.updates[id]...)
}

func (f *fakeAPI) updatedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.updates)
}

func (f *fakeAPI) pollCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.polls)
}

func (f *fakeAPI) pollsCopy() []pollRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pollRequest(nil), f.polls...)
}

func (f *fakeAPI) queued(q string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queues[q])
}

// statusErr builds the error a client would return for an HTTP status.
func statusErr(status int) error {
	return &apiFailure{
		err:       fmt.Errorf("server answered %d", status),
		status:    status,
		retryable: retryableStatus(status),
		kind:      kindOfStatus(status),
	}
}

// countingRecorder counts every Recorder call.
type countingRecorder struct {
	polls, tasksPolled, executes, updates, updateErrs, gaveUp, leases, slots, paused atomic.Int64
	mu                                                                               sync.Mutex
	statuses                                                                         map[string]int
	kinds                                                                            map[string]int
}

var _ metrics.Recorder = (*countingRecorder)(nil)

func newCountingRecorder() *countingRecorder {
	return &countingRecorder{statuses: map[string]int{}, kinds: map[string]int{}}
}

func (c *countingRecorder) PollDone(_ string, n int, _ time.Duration, _ string) {
	c.polls.Add(1)
	c.tasksPolled.Add(int64(n))
}

func (c *countingRecorder) ExecuteDone(_ string, _ time.Duration, status, kind string, _ int) {
	c.executes.Add(1)
	c.mu.Lock()
	c.statuses[status]++
	if kind != "" {
		c.kinds[kind]++
	}
	c.mu.Unlock()
}

func (c *countingRecorder) UpdateDone(_ string, _ time.Duration, kind string) {
	c.updates.Add(1)
	if kind != "" {
		c.updateErrs.Add(1)
	}
}
func (c *countingRecorder) UpdateGaveUp(string)           { c.gaveUp.Add(1) }
func (c *countingRecorder) LeaseExtended(string)          { c.leases.Add(1) }
func (c *countingRecorder) SlotsChanged(string, int, int) { c.slots.Add(1) }
func (c *countingRecorder) PausedChanged(string, bool)    { c.paused.Add(1) }

func (c *countingRecorder) kind(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kinds[k]
}
