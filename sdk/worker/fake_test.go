package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

// fakeAPI is an in-memory task server for unit tests: queues per
// [domain:]taskType, held polls that behave as one of the real servers
// (mode), queue sizes, every update recorded, and error injection.
type fakeAPI struct {
	mu      sync.Mutex
	queues  map[string][]model.Task
	notify  chan struct{} // closed and replaced on every push
	updates map[string][]model.TaskResult
	leases  map[string]int
	v2      bool // support update-v2
	mode    fakeMode
	// noSizes makes queueSizes unsupported; sizesErr, when set, may fail it.
	noSizes    bool
	sizesErr   func() error
	sizesCalls int
	lookups    map[string]int // queue -> times named in queue-size requests (a store lookup each on a server)
	phantom    map[string]int // added to a queue's reported size (tasks not yet due)
	held       int            // held polls open now
	heldPeak   int
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
	// serveAbandoned makes a held poll whose caller went away go on to its
	// end, as Conductor 3.32 does; tasks it then takes are swallowed: gone
	// from the queue, and nobody runs them.
	serveAbandoned bool
	swallowed      []model.Task
	// sizesOmit: queues left out of queue-size answers.
	sizesOmit map[string]bool
	// pushes counts push calls; taskNode is the node (fakeCluster) each
	// task was queued through.
	pushes   int
	taskNode map[string]int
}

var _ taskAPI = (*fakeAPI)(nil)

// fakeMode is what a held poll does, after the real servers (strategy.go).
type fakeMode int

const (
	// fakeEarly answers as soon as any task is queued (Conductor 3.32 with
	// Redis stores).
	fakeEarly fakeMode = iota
	// fakeHold answers at once only when count tasks are queued; otherwise
	// it holds the whole timeout and answers with the tasks that were queued
	// when it started (Conductor 3.21 with Redis queues).
	fakeHold
	// fakeFullBatch takes queued tasks every 100 ms and answers once it has
	// count of them or the timeout has passed (Conductor 3.32 with SQLite).
	fakeFullBatch
	// fakeCluster is two Conductor 3.32.3 nodes on one Redis behind a
	// round-robin balancer: polls and pushes alternate between the nodes; a
	// held poll wakes at once for a task queued through its own node, but
	// sees one queued through the other node only at its node's next look
	// at the shared store, once a second from the poll's start (seen on a
	// two-node cluster: cross-node wakes after 1.0-1.04 s of holding).
	fakeCluster
)

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

func (f *fakeAPI) push(domain string, tasks ...model.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes++
	for _, t := range tasks {
		if f.taskNode == nil {
			f.taskNode = map[string]int{}
		}
		f.taskNode[t.TaskId] = f.pushes % 2
		q := queueName(t.TaskType, domain)
		t.Domain = domain
		if t.ScheduledTime == 0 {
			t.ScheduledTime = time.Now().UnixMilli()
		}
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
	now := time.Now().UnixMilli()
	for i := range out {
		f.owner[out[i].TaskId] = q
		if out[i].StartTime == 0 {
			out[i].StartTime = now
		}
		out[i].PollCount++
	}
	return out
}

// takeFrom takes up to n tasks of queue q that were queued through node
// (fakeCluster), leaving the others queued in their order.
func (f *fakeAPI) takeFrom(q string, n, node int) []model.Task {
	var mine, rest []model.Task
	for _, t := range f.queues[q] {
		if len(mine) < n && f.taskNode[t.TaskId] == node {
			mine = append(mine, t)
		} else {
			rest = append(rest, t)
		}
	}
	f.queues[q] = mine
	out := f.take(q, len(mine))
	f.queues[q] = rest
	return out
}

func (f *fakeAPI) batchPoll(ctx context.Context, req pollRequest) ([]model.Task, error) {
	f.mu.Lock()
	abandonable := f.serveAbandoned && req.timeout > 0
	f.mu.Unlock()
	if !abandonable {
		return f.serve(ctx, req)
	}
	type answer struct {
		tasks []model.Task
		err   error
	}
	ch := make(chan answer, 1)
	go func() {
		tasks, err := f.serve(context.WithoutCancel(ctx), req)
		ch <- answer{tasks, err}
	}()
	select {
	case a := <-ch:
		return a.tasks, a.err
	case <-ctx.Done():
		go func() {
			a := <-ch
			f.mu.Lock()
			f.swallowed = append(f.swallowed, a.tasks...)
			f.mu.Unlock()
		}()
		return nil, ctx.Err()
	}
}

// sizeLookups counts the queues named in queue-size requests so far: all of
// them, or only queue's when it is not empty.
func (f *fakeAPI) sizeLookups(queue string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if queue != "" {
		return f.lookups[queue]
	}
	n := 0
	for _, c := range f.lookups {
		n += c
	}
	return n
}

func (f *fakeAPI) sizeRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sizesCalls
}

func (f *fakeAPI) swallowedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, t := range f.swallowed {
		ids = append(ids, t.TaskId)
	}
	return ids
}

func (f *fakeAPI) serve(ctx context.Context, req pollRequest) ([]model.Task, error) {
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
	if req.timeout > 0 {
		f.mu.Lock()
		f.held++
		f.heldPeak = max(f.heldPeak, f.held)
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.held--
			f.mu.Unlock()
		}()
	}
	q := queueName(req.taskType, req.domain)
	f.mu.Lock()
	mode, queued := f.mode, len(f.queues[q])
	if req.timeout == 0 || queued >= req.count {
		got := f.take(q, req.count+f.extra)
		f.mu.Unlock()
		return got, nil
	}
	f.mu.Unlock()
	deadline := time.NewTimer(req.timeout)
	defer deadline.Stop()
	switch mode {
	case fakeHold:
		select {
		case <-deadline.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.take(q, min(queued, req.count)), nil
	case fakeCluster:
		node := n % 2
		look := time.NewTicker(time.Second) // the node's look at the shared store
		defer look.Stop()
		for {
			f.mu.Lock()
			got := f.takeFrom(q, req.count, node)
			wait := f.notify
			f.mu.Unlock()
			if len(got) > 0 {
				return got, nil
			}
			select {
			case <-wait:
			case <-look.C:
				f.mu.Lock()
				got := f.take(q, req.count)
				f.mu.Unlock()
				if len(got) > 0 {
					return got, nil
				}
			case <-deadline.C:
				return nil, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	case fakeFullBatch:
		var got []model.Task
		step := time.NewTicker(100 * time.Millisecond)
		defer step.Stop()
		for {
			f.mu.Lock()
			got = append(got, f.take(q, req.count-len(got))...)
			f.mu.Unlock()
			if len(got) >= req.count {
				return got, nil
			}
			select {
			case <-step.C:
			case <-deadline.C:
				f.mu.Lock()
				got = append(got, f.take(q, req.count-len(got))...)
				f.mu.Unlock()
				return got, nil
			case <-ctx.Done():
				return got, nil // a real server would lose these; tests see them
			}
		}
	}
	for {
		f.mu.Lock()
		got := f.take(q, req.count+f.extra)
		wait := f.notify
		f.mu.Unlock()
		if len(got) > 0 {
			return got, nil
		}
		select {
		case <-wait:
		case <-deadline.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (f *fakeAPI) queueSizes(ctx context.Context, queues []string) (map[string]int, error) {
	f.mu.Lock()
	f.sizesCalls++
	if f.lookups == nil {
		f.lookups = map[string]int{}
	}
	for _, q := range queues {
		f.lookups[q]++
	}
	no, errf := f.noSizes, f.sizesErr
	f.mu.Unlock()
	if no {
		return nil, fmt.Errorf("GET /tasks/queue/sizes: 404: %w", errQueueSizesUnsupported)
	}
	if errf != nil {
		if err := errf(); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(queues))
	for _, q := range queues {
		if f.sizesOmit[q] {
			continue
		}
		out[q] = len(f.queues[q]) + f.phantom[q]
	}
	return out, nil
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
	return describe(&client.APIError{StatusCode: status, Method: "POST", Path: "/api/tasks"})
}

// countingRecorder counts every Recorder call.
type countingRecorder struct {
	polls, tasksPolled, executes, updates, updateErrs, gaveUp, leases, slots, paused atomic.Int64
	mu                                                                               sync.Mutex
	statuses                                                                         map[string]int
	kinds                                                                            map[ErrorKind]int
}

var _ Recorder = (*countingRecorder)(nil)

func newCountingRecorder() *countingRecorder {
	return &countingRecorder{statuses: map[string]int{}, kinds: map[ErrorKind]int{}}
}

func (c *countingRecorder) PollDone(_ string, n int, _ time.Duration, _ ErrorKind) {
	c.polls.Add(1)
	c.tasksPolled.Add(int64(n))
}

func (c *countingRecorder) ExecuteDone(_ string, _ time.Duration, status string, kind ErrorKind, _ int) {
	c.executes.Add(1)
	c.mu.Lock()
	c.statuses[status]++
	if kind != "" {
		c.kinds[kind]++
	}
	c.mu.Unlock()
}

func (c *countingRecorder) UpdateDone(_ string, _ time.Duration, kind ErrorKind) {
	c.updates.Add(1)
	if kind != "" {
		c.updateErrs.Add(1)
	}
}
func (c *countingRecorder) ExecuteStarted(string)         {}
func (c *countingRecorder) UpdateGaveUp(string)           { c.gaveUp.Add(1) }
func (c *countingRecorder) LeaseExtended(string)          { c.leases.Add(1) }
func (c *countingRecorder) SlotsChanged(string, int, int) { c.slots.Add(1) }
func (c *countingRecorder) PausedChanged(string, bool)    { c.paused.Add(1) }

func (c *countingRecorder) kind(k ErrorKind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kinds[k]
}
