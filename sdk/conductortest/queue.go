package conductortest

import (
	"container/heap"
	"time"
)

// queue holds the messages (task references) of one "[domain:]taskType"
// queue. Every field is guarded by Server.mu.
//
// A message is valid while its gen matches the task's qgen: removing a task
// from its queue just bumps the generation, and stale entries are skipped
// when they come up. size counts valid messages, ready and delayed alike, as
// the real queue does.
type queue struct {
	name    string
	ready   []qentry // FIFO; ready[head] is the next to hand out
	head    int
	delayed delayHeap
	size    int
	waiters []chan struct{}
}

type qentry struct {
	t   *task
	gen uint64
}

func (e qentry) valid() bool { return e.t.queued && e.gen == e.t.qgen }

type delayed struct {
	due int64 // unix nanoseconds
	e   qentry
}

type delayHeap []delayed

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)        { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = delayed{}
	*h = old[:n-1]
	return x
}

func (s *Server) queue(name string) *queue {
	q := s.queues[name]
	if q == nil {
		q = &queue{name: name}
		s.queues[name] = q
	}
	return q
}

func queueName(taskType, domain string) string {
	if domain == "" {
		return taskType
	}
	return domain + ":" + taskType
}

// push puts t in its queue, pollable after delay. Caller holds s.mu.
func (s *Server) push(t *task, delay time.Duration, now time.Time) {
	q := s.queue(t.queue)
	if t.queued {
		q.size--
	}
	t.qgen++
	t.queued = true
	q.size++
	e := qentry{t: t, gen: t.qgen}
	if delay <= 0 {
		q.ready = append(q.ready, e)
	} else {
		heap.Push(&q.delayed, delayed{due: now.Add(delay).UnixNano(), e: e})
	}
	// Wake every waiting poller: with a ready message one of them takes it;
	// with a delayed one they re-arm their timers for the new due time.
	q.wake()
}

// pushFront puts t back at the head of the ready list (a poll that took it
// did not hand it out). Caller holds s.mu.
func (q *queue) pushFront(t *task) {
	t.qgen++
	t.queued = true
	q.size++
	e := qentry{t: t, gen: t.qgen}
	if q.head > 0 {
		q.head--
		q.ready[q.head] = e
	} else {
		q.ready = append(q.ready, qentry{})
		copy(q.ready[1:], q.ready)
		q.ready[0] = e
	}
	q.wake()
}

func (q *queue) wake() {
	for i, w := range q.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
		q.waiters[i] = nil
	}
	q.waiters = q.waiters[:0]
}

func (q *queue) removeWaiter(ch chan struct{}) {
	for i, w := range q.waiters {
		if w == ch {
			last := len(q.waiters) - 1
			q.waiters[i] = q.waiters[last]
			q.waiters[last] = nil
			q.waiters = q.waiters[:last]
			return
		}
	}
}

// dequeue removes t from its queue if it is there. Caller holds s.mu.
func (s *Server) dequeue(t *task) {
	if !t.queued {
		return
	}
	t.queued = false
	t.qgen++
	if q := s.queues[t.queue]; q != nil {
		q.size--
	}
}

// promote moves due delayed messages to the ready list.
func (q *queue) promote(now time.Time) {
	n := now.UnixNano()
	for len(q.delayed) > 0 && q.delayed[0].due <= n {
		d := heap.Pop(&q.delayed).(delayed)
		if d.e.valid() {
			q.ready = append(q.ready, d.e)
		}
	}
}

// next removes and returns the next valid ready message, or nil.
func (q *queue) next() *task {
	for q.head < len(q.ready) {
		e := q.ready[q.head]
		q.ready[q.head] = qentry{}
		q.head++
		if e.valid() {
			e.t.queued = false
			e.t.qgen++
			q.size--
			q.compact()
			return e.t
		}
	}
	q.compact()
	return nil
}

func (q *queue) compact() {
	if q.head == len(q.ready) {
		q.ready = q.ready[:0]
		q.head = 0
		return
	}
	if q.head > 1024 && q.head*2 > len(q.ready) {
		n := copy(q.ready, q.ready[q.head:])
		clear(q.ready[n:])
		q.ready = q.ready[:n]
		q.head = 0
	}
}

// nextDue returns when the earliest valid delayed message becomes due.
func (q *queue) nextDue() (time.Time, bool) {
	for len(q.delayed) > 0 {
		d := q.delayed[0]
		if d.e.valid() {
			return time.Unix(0, d.due), true
		}
		heap.Pop(&q.delayed)
	}
	return time.Time{}, false
}

// timerHeap orders the server's deadlines (task and workflow timeouts).
// Each task or workflow has at most one entry, the earliest of its
// deadlines; index lets it be moved or removed in O(log n), so finished
// tasks leave nothing behind.
type timerHeap []*timerEntry

type timerEntry struct {
	at    int64 // unix nanoseconds
	index int
	t     *task
	wf    *workflow
}

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	e := x.(*timerEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.index = -1
	*h = old[:n-1]
	return e
}

// setTimer places, moves or (at == 0) removes the entry in *slot.
// Caller holds s.mu.
func (s *Server) setTimer(slot **timerEntry, at int64, t *task, wf *workflow) {
	e := *slot
	if at == 0 {
		if e != nil && e.index >= 0 {
			heap.Remove(&s.timers, e.index)
		}
		*slot = nil
		return
	}
	if e != nil && e.index >= 0 {
		if e.at == at {
			return
		}
		e.at = at
		heap.Fix(&s.timers, e.index)
	} else {
		e = &timerEntry{at: at, t: t, wf: wf}
		heap.Push(&s.timers, e)
		*slot = e
	}
	if e.index == 0 {
		select {
		case s.sweeperWake <- struct{}{}:
		default:
		}
	}
}

// fireTimers fires the task and workflow deadlines due at now. Caller holds
// s.mu.
func (s *Server) fireTimers(now time.Time) {
	for len(s.timers) > 0 && s.timers[0].at <= now.UnixNano() {
		e := heap.Pop(&s.timers).(*timerEntry)
		if e.t != nil {
			e.t.timer = nil
			s.checkTaskTimeouts(e.t, now)
		} else {
			e.wf.timer = nil
			s.checkWorkflowTimeout(e.wf, now)
		}
	}
}

// sweeper fires task and workflow deadlines on time (the real server's
// sweeper may be up to 30 s late; being on time is compatible).
func (s *Server) sweeper() {
	defer s.bg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := s.now()
		s.fireTimers(now)
		wait := time.Hour
		if len(s.timers) > 0 {
			wait = time.Duration(s.timers[0].at - now.UnixNano())
		}
		s.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-s.closing:
			return
		case <-s.sweeperWake:
		case <-timer.C:
		}
	}
}
