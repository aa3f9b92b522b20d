package worker

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// watchQueryMax bounds the query string of one queue-size request: Tomcat,
// which serves Conductor, refuses request lines over 8 KB by default.
const watchQueryMax = 4000

// queueWatcher lets idle workers wait without polling: one goroutine per
// runner asks the server for the sizes of all watched queues (one request per
// watchQueryMax bytes of queue names) and wakes the workers whose queue has
// tasks. See strategy.go for when workers use it.
type queueWatcher struct {
	api   queueSizer
	clock clockSource
	log   logrus.FieldLogger
	errs  *errLogLimiter
	// gridOffset shifts this runner's grid of cold looks (see coldPeriod).
	gridOffset time.Duration

	mu          sync.Mutex
	entries     map[*watchEntry]struct{}
	quiet       map[string]quietMark
	checked     map[string]time.Time // when each queue was last checked
	seen        map[string]int       // the size that check found
	kick        chan struct{}        // a new entry may be due earlier than planned
	unsupported bool                 // the server lacks the endpoint: nobody may wait
	// Evidence that the endpoint is missing: answers saying so in a row,
	// since when; and when to ask again after giving up.
	missingStrikes int
	missingSince   time.Time
	retryAt        time.Time
	// nextRound is when the fallback may next wake workers to poll.
	nextRound time.Time

	// The goroutine's lifecycle (Start, Stop).
	cancel context.CancelFunc
	done   chan struct{}
}

// The queue-size endpoint is given up only on repeated evidence over time,
// as fatal.go decides on a misconfiguration (a proxy may answer 404 for a
// moment while a deployment switches over), and asked for again later (the
// server may have been upgraded behind its load balancer).
const (
	watchMissingStrikes = 3
	watchMissingSpan    = 3 * time.Second
	watchRetryAfter     = 5 * time.Minute

	// watchFallbackPolls is how many watched workers the watcher lets poll
	// per poll interval, in turn, while the server cannot report queue
	// sizes: as many as a runner holds polls by default (heldPollsDefault),
	// so that a process with hundreds of idle task types costs such a
	// server 4 quick polls per interval, not one per type. Each type is then
	// polled every (types / 4) intervals.
	watchFallbackPolls = 4
)

// Cold queues (quiet task types in the docs: their worker has had no task
// for trafficRecent, a minute, or none since it started) are looked at less
// often when a runner watches many of them, because every queue named in a
// queue-size request is one store lookup on the server, and a fleet
// multiplies them. On Conductor 3.21.14, 50 processes each looking at 50
// idle types every 100 ms made about 18,000 lookups a second and took the
// server's whole CPU (1.00 core; the official SDK's fleet 0.61, with all 200
// request threads held). So the watcher spends at most
// coldChecksPerInterval lookups per poll interval on cold queues: a runner
// with up to 5 of them looks at each every interval, as before; with 10,
// every 2 intervals; with 50 or more, once a second (coldCheckMax, or the
// poll interval when that is longer). A budget of 10 left the 50-process
// fleet at the official SDK's cost (0.47 and 0.52 cores against 0.58 and
// 0.52), with the lookups still most of it. A queue leaves the
// cold rate with the first task its worker takes, found by the first look
// after it was queued. Queues of workers with recent tasks are looked at
// every interval, always.
//
// Cold queues are looked at on a grid of their period (its multiples in
// clock time, shifted by the runner's own random offset), so that all of a
// runner's cold queues are named in the same requests: one request per
// period for all of them, not one per poll interval for a tenth of them
// each. The first fleet run with the cold rate had them keep the phases
// their workers started in, and made about 8 requests a second per process
// where 2 were meant. The offset keeps the processes of a fleet out of step:
// with one grid for all, 50 processes looked at a cold queue at the same
// instants, once a second, where at random phases one of them looks every
// 20 ms or so, and the busy type's pickup p90, cold when its trickle began,
// went from 35 to 95-120 ms.
const (
	coldChecksPerInterval = 5
	coldCheckMax          = time.Second
)

// coldPeriod is how often the watcher looks at each cold queue when it
// watches cold of them, under a poll interval of interval.
func coldPeriod(interval time.Duration, cold int) time.Duration {
	turns := max((cold+coldChecksPerInterval-1)/coldChecksPerInterval, 1)
	return max(interval, min(interval*time.Duration(turns), coldCheckMax))
}

type watchEntry struct {
	queue    string
	interval time.Duration
	lastTask time.Time // when the worker last had tasks (zero: never); see coldPeriod
	due      time.Time
	woken    chan int // receives the queue size seen; buffered, sent once
}

// quietMark: the worker found nothing with size tasks queued; ignore the
// queue until it grows, until passes, or a check finds it empty (then the
// tasks not yet due are gone, and what found nothing was another process
// taking the task first).
type quietMark struct {
	size  int
	until time.Time
}

// queueSizer is what the watcher needs from the server.
type queueSizer interface {
	// queueSizes returns the number of queued tasks of each queue
	// ("taskType" or "domain:taskType"), or an error matching
	// errQueueSizesUnsupported when the server cannot tell.
	queueSizes(ctx context.Context, queues []string) (map[string]int, error)
}

func newQueueWatcher(api queueSizer, clock clockSource, log logrus.FieldLogger) *queueWatcher {
	return &queueWatcher{
		api:   api,
		clock: clock,
		log:   log,
		errs:  newErrLogLimiter("worker: queue-size checks failing", errorLogInterval, clock),
		// A phase anywhere within the longest cold period at the default
		// interval; nextDue takes it modulo the period in use.
		gridOffset: time.Duration(rand.Int64N(int64(coldCheckMax))),
		entries:    map[*watchEntry]struct{}{},
		quiet:      map[string]quietMark{},
		checked:    map[string]time.Time{},
		seen:       map[string]int{},
		kick:       make(chan struct{}, 1),
	}
}

// available reports whether workers may wait here. They always may: on a
// server without queue sizes the watcher lets them poll in turn.
func (w *queueWatcher) available() bool { return true }

// wait blocks until the worker should poll (woken: the queue holds size
// tasks, or size is 0 when the check failed, the answer lacked the queue or
// the server cannot report sizes and it is this worker's turn to poll), or
// until interrupt fires or ctx ends (not woken). The first check
// comes one interval after the queue was last looked at: by the worker's own
// poll (lastPoll) or by an earlier check of this watcher. So a worker whose
// wait is interrupted again and again (its tasks finishing one by one) is
// still checked once per interval, not pushed an interval away each time.
// A cold worker's queue (lastTask, when its polls last brought tasks, is
// zero or older than trafficRecent) is checked at the cold rate instead
// (coldPeriod).
func (w *queueWatcher) wait(ctx context.Context, queue string, interval time.Duration, lastTask, lastPoll time.Time, interrupt <-chan struct{}) (woken bool, size int) {
	w.mu.Lock()
	last := lastPoll
	if c := w.checked[queue]; c.After(last) {
		last = c
		// The last check, since the worker's last poll, found tasks: a
		// wake that the worker missed (it left its previous wait at that
		// moment) must not wait for the next check.
		if n := w.seen[queue]; n > 0 {
			if m, ok := w.quiet[queue]; !ok || n > m.size {
				w.mu.Unlock()
				return true, n
			}
		}
	}
	e := &watchEntry{queue: queue, interval: interval, lastTask: lastTask, woken: make(chan int, 1)}
	w.entries[e] = struct{}{}
	now, cold := w.clock.Now(), 0
	if e.coldAt(now) {
		cold = w.coldLocked(now) // only a cold entry's period depends on it
	}
	e.due = e.nextDue(last, now, cold, w.gridOffset)
	w.mu.Unlock()
	w.poke()
	defer func() {
		w.mu.Lock()
		delete(w.entries, e)
		w.mu.Unlock()
	}()
	select {
	case n := <-e.woken:
		return true, n
	case <-interrupt:
		return false, 0
	case <-ctx.Done():
		return false, 0
	}
}

// coldAt reports whether e's worker is cold at now.
func (e *watchEntry) coldAt(now time.Time) bool { return isCold(e.lastTask, now) }

// coldLocked counts the entries whose worker is cold at now (one entry per
// queue: a runner has one poller per queue).
func (w *queueWatcher) coldLocked(now time.Time) int {
	n := 0
	for e := range w.entries {
		if e.coldAt(now) {
			n++
		}
	}
	return n
}

// coldPeriodWith is the cold period (coldPeriod) the watcher's cold queues
// have with one more: that of a cold worker that holds a poll instead of
// waiting here.
func (w *queueWatcher) coldPeriodWith(interval time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return coldPeriod(interval, w.coldLocked(w.clock.Now())+1)
}

// nextDue is when e's queue is next looked at, after a look at from, while
// cold entries are watched: one interval later, or for a cold worker at
// the first point after from of its cold period's grid, shifted by offset
// (see coldPeriod).
func (e *watchEntry) nextDue(from, now time.Time, cold int, offset time.Duration) time.Time {
	if !e.coldAt(now) {
		return from.Add(e.interval)
	}
	d := coldPeriod(e.interval, cold)
	return from.Add(d - offset).Truncate(d).Add(offset)
}

// poke makes the watcher look at its entries again.
func (w *queueWatcher) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// falseWake records that a worker woken with size tasks queued found none
// it could take (tasks queued but not yet due).
func (w *queueWatcher) falseWake(queue string, size int) {
	w.mu.Lock()
	w.quiet[queue] = quietMark{size: size, until: w.clock.Now().Add(falseWakeQuiet)}
	w.mu.Unlock()
}

// Start runs the watcher's goroutine, counted by tr, until ctx ends or
// Stop; a watcher that runs already is left alone.
func (w *queueWatcher) Start(ctx context.Context, tr *tracker) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		return
	}
	ctx, w.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	w.done = done
	tr.add()
	go func() {
		defer tr.done()
		defer close(done)
		w.run(ctx)
	}()
}

// Stop ends the watcher's goroutine and waits for it; a check under way is
// cancelled. Start may start it again.
func (w *queueWatcher) Stop() {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.cancel, w.done = nil, nil
	w.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// run checks the watched queues until ctx ends.
func (w *queueWatcher) run(ctx context.Context) {
	for ctx.Err() == nil {
		next, ok := w.nextDue()
		if !ok {
			select {
			case <-w.kick:
			case <-ctx.Done():
			}
			continue
		}
		if d := next.Sub(w.clock.Now()); d > 0 {
			t := w.clock.NewTimer(d)
			select {
			case <-t.C():
			case <-w.kick:
				t.Stop()
				continue // an entry may now be due sooner
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		w.check(ctx)
	}
}

// nextDue is the earliest due time of the entries.
func (w *queueWatcher) nextDue() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var next time.Time
	for e := range w.entries {
		if next.IsZero() || e.due.Before(next) {
			next = e.due
		}
	}
	if !next.IsZero() && w.unsupported && next.Before(w.nextRound) {
		next = w.nextRound
	}
	return next, !next.IsZero()
}

// fallbackRound lets the watchFallbackPolls workers that have waited
// longest poll, while the server cannot report queue sizes; it reports false
// once it is time to ask the server again. Caller holds w.mu.
func (w *queueWatcher) fallbackRound(now time.Time) bool {
	if !now.Before(w.retryAt) {
		w.unsupported = false // ask the server again
		w.missingStrikes = 0
		return false
	}
	es := make([]*watchEntry, 0, len(w.entries))
	var interval time.Duration
	for e := range w.entries {
		if !e.due.After(now) {
			es = append(es, e)
		}
		if interval == 0 || e.interval < interval {
			interval = e.interval
		}
	}
	slices.SortFunc(es, func(a, b *watchEntry) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.queue, b.queue)
	})
	w.wakeLocked(es[:min(len(es), watchFallbackPolls)], 0)
	w.nextRound = now.Add(interval)
	return true
}

// check asks for the sizes of every due queue and wakes their workers.
func (w *queueWatcher) check(ctx context.Context) {
	now := w.clock.Now()
	w.mu.Lock()
	if w.unsupported && w.fallbackRound(now) {
		w.mu.Unlock()
		return
	}
	due := map[string][]*watchEntry{}
	var names []string
	cold := w.coldLocked(now)
	for e := range w.entries {
		// Entries due within half their interval join this request, so
		// workers that started watching at different moments fall into
		// step: one request per interval for all of them, instead of one
		// per worker's own phase. A worker is checked at most half an
		// interval early.
		if e.due.After(now.Add(e.interval / 2)) {
			continue
		}
		e.due = e.nextDue(now, now, cold, w.gridOffset)
		if _, seen := due[e.queue]; !seen {
			names = append(names, e.queue)
			w.checked[e.queue] = now
		}
		due[e.queue] = append(due[e.queue], e)
	}
	for q, m := range w.quiet {
		if !now.Before(m.until) {
			delete(w.quiet, q)
		}
	}
	w.mu.Unlock()

	for len(names) > 0 {
		chunk := names
		size := 0
		for i, n := range names {
			size += len("taskType=&") + len(url.QueryEscape(n))
			if size > watchQueryMax && i > 0 {
				chunk = names[:i]
				break
			}
		}
		names = names[len(chunk):]
		sizes, err := w.api.queueSizes(ctx, chunk)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, errQueueSizesUnsupported) && w.missing(now) {
				w.log.WithError(err).WithFields(logrus.Fields{"retryIn": watchRetryAfter, "pollsPerInterval": watchFallbackPolls}).Info("worker: server does not report queue sizes; idle workers poll in turn")
				w.disable(now)
				return
			}
			// Let the workers poll: their own error handling backs off and
			// reports, and a passing fault costs one poll each.
			w.errs.failure(w.log, err)
			for _, q := range chunk {
				w.wake(due[q], 0)
			}
			continue
		}
		w.errs.success(w.log)
		w.mu.Lock()
		w.missingStrikes = 0
		for _, q := range chunk {
			n, ok := sizes[q]
			w.seen[q] = n
			if !ok {
				// An answer without the queue says nothing about it: let
				// the worker poll (once per interval) rather than wait on
				// a size that never comes.
				w.wakeLocked(due[q], 0)
				continue
			}
			if n <= 0 {
				delete(w.quiet, q)
				continue
			}
			if m, ok := w.quiet[q]; ok && n <= m.size {
				continue
			}
			w.wakeLocked(due[q], n)
		}
		w.mu.Unlock()
	}
}

func (w *queueWatcher) wake(es []*watchEntry, n int) {
	w.mu.Lock()
	w.wakeLocked(es, n)
	w.mu.Unlock()
}

func (w *queueWatcher) wakeLocked(es []*watchEntry, n int) {
	for _, e := range es {
		if _, ok := w.entries[e]; !ok {
			continue // it left meanwhile
		}
		select {
		case e.woken <- n:
		default:
		}
	}
}

// missing records an answer saying that the endpoint is missing and
// reports whether the evidence is now enough to give it up.
func (w *queueWatcher) missing(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.missingStrikes == 0 {
		w.missingSince = now
	}
	w.missingStrikes++
	return w.missingStrikes >= watchMissingStrikes && now.Sub(w.missingSince) >= watchMissingSpan
}

// disable stops asking the server for queue sizes until watchRetryAfter
// has passed; meanwhile workers poll in turn (fallbackRound).
func (w *queueWatcher) disable(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unsupported = true
	w.retryAt = now.Add(watchRetryAfter)
	w.nextRound = now
}
