package worker

import (
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// This file holds the poll strategy: what the next poll asks for and how an
// idle worker waits for work. It is pure logic over what polls returned, so
// it is tested without a server (strategy_test.go); poller.go carries it out.
//
// Real Conductor servers treat a held (long) poll in three ways, measured on
// 2026-12-03 with single-task workflows started during a held poll:
//
//	server                        held poll, count=1            held poll, count>1
//	3.21.14, Redis queues         never woken; the task stays    held to the timeout
//	                              queued for the next poll
//	3.32.3, SQLite (its default)  woken within its 100 ms step   held until count tasks
//	3.32.3, Redis stores          woken at once                  woken at once
//
// and every one answers a poll with timeout 0 at once with what is queued.
// So the strategy never asks a server to hold a partial batch: while tasks
// flow it polls with timeout 0 for as many tasks as it has free slots, and
// only an idle worker waits, in one of four ways (idleWait):
//
//   - idleHold: a held poll for one task with pollTimeoutDefault (5 s), once
//     the runner's scheduler has seen the server wake held polls fast
//     (scheduler.go). An idle worker then costs one request per 5 s and
//     picks a task up within the server's step (at once on Redis stores,
//     within 100 ms on SQLite).
//   - idleProbe: a held poll for one task with two and a half poll
//     intervals as its timeout, while the server's behaviour is unknown. On
//     every server above this picks a task up within one probe (3.21 answers
//     the next probe at once; SQLite wakes within its 100 ms step), with no
//     more requests than the official SDK makes, and it is how the runner
//     gathers its evidence. Once the scheduler has seen a server let tasks
//     pass held polls or answer them late (3.21; several nodes behind a
//     load balancer), it stops probing there and watches instead.
//   - idleWatch: no request of its own. The runner's queue watcher asks the
//     server for the sizes of every watched queue in one request per poll
//     interval (GET /tasks/queue/sizes takes many task types) and wakes the
//     worker whose queue has tasks. This is how a process with hundreds of
//     task types stays cheap for the server: 400 idle types hold no server
//     thread, and once quiet (no task for a minute) they are looked at in
//     turn, 5 per poll interval, each at least once a second (watcher.go,
//     coldChecksPerInterval).
//   - idleInterval: sleep the poll interval, then poll with timeout 0: the
//     classic worker loop, for PollTimeout(0) and for servers without the
//     queue-size endpoint.
//
// Held polls occupy one of the server's request threads each (Tomcat's pool:
// 200 by default), so a runner holds at most WithMaxHeldPolls of them at
// once (heldPollsDefault, 4); an idle worker without a permit watches.

// idleWait says how an idle worker waits for its next task.
type idleWait int

const (
	idleWatch idleWait = iota
	idleProbe
	idleHold
	idleInterval
)

var idleWaitNames = [...]string{"watch", "probe", "hold", "interval"}

func (w idleWait) String() string { return idleWaitNames[w] }

// Thresholds of what held polls teach about a server.
const (
	// arrivedLate is how long a poll must already have been out when its task
	// was queued: a task that was queued before the poll reached the server
	// proves nothing, and this margin absorbs the request's trip there.
	arrivedLate = 40 * time.Millisecond

	// falseWakeQuiet is how long the queue watcher ignores a queue whose
	// size did not grow after its worker found nothing there (tasks that are
	// queued but not yet due: callbacks, postponed rate-limited tasks).
	falseWakeQuiet = time.Second

	// probeTimeout is the probe's timeout in tenths of the poll interval
	// (25: two and a half intervals, 250 ms at the default). The official
	// SDK holds a 100 ms poll and then sleeps its 100 ms interval: 5 polls a
	// second per idle poller on Conductor 3.21.14, 4 on 3.32.3 with SQLite,
	// whose 100 ms steps stretch the hold (make bench-conductor). Probes of
	// 200 ms made 5.0 and 4.75 a second there, one too many on SQLite;
	// 250 ms ones make about 4 and 3.3. On 3.21 a task arriving during a
	// probe is picked up by the next one, so pickup waits up to one probe
	// (p50 ~125 ms, p90 ~225 ms against the official SDK's ~190 / ~270 ms);
	// on 3.32 with SQLite a probe for one task wakes within the store's
	// 100 ms step whatever its timeout.
	probeTimeoutTenths = 25

	// probeTimeoutMin bounds the probe's timeout from below, so that a very
	// short poll interval does not turn probes into a busy loop.
	probeTimeoutMin = 50 * time.Millisecond
)

// pollStrategy is one worker's poll plan. Only the poller's loop uses it: no
// locking. What polls teach about the server is the runner's (scheduler.go).
//
// The user's choice of timeout (WithPollTimeout or PollTimeout) comes with
// each call from the worker's current settings: a fixed timeout is used as
// it is, and a fixed 0 means idleInterval.
type pollStrategy struct {
	// lastHeldEmpty is the duration of the previous poll when it was a held
	// poll that came back empty (0 otherwise): the scheduler's yardstick
	// for a task let pass.
	lastHeldEmpty time.Duration
}

func newPollStrategy() pollStrategy { return pollStrategy{} }

// idle chooses how an idle worker waits. havePermit says whether the worker
// may hold a poll; watchable whether the queue watcher works on this server;
// wakes whether the runner has seen this server wake held polls fast.
func (s *pollStrategy) idle(tc timeoutChoice, havePermit, watchable, wakes bool) idleWait {
	switch {
	case tc.fixed && tc.d == 0:
		return idleInterval
	case havePermit && (tc.fixed || wakes):
		return idleHold
	case havePermit:
		return idleProbe
	case watchable:
		return idleWatch
	default:
		return idleInterval
	}
}

// heldTimeout is the timeout of a held poll of the given kind. A cold
// worker (no task for a minute: watcher.go) probes for coldPeriod at least
// (cold: 0 for a worker that is not cold): it would be looked at no more
// often if it were watched, and on a server that never wakes held polls
// (3.21) a probe costs one request per timeout.
func (s *pollStrategy) heldTimeout(tc timeoutChoice, w idleWait, pollInterval, cold time.Duration) time.Duration {
	switch {
	case w == idleHold && tc.fixed:
		return tc.d
	case w == idleHold:
		return pollTimeoutDefault
	case w == idleProbe:
		d := min(max(pollInterval*probeTimeoutTenths/10, probeTimeoutMin), pollTimeoutMax)
		d = min(max(d, cold), pollTimeoutMax)
		return d.Truncate(time.Millisecond)
	}
	return 0
}

// observe notes a poll's answer and returns what the scheduler needs to
// judge it: held (timeout > 0) and elapsed describe this poll, sincePrev how
// long before its answer the previous poll ended; the previous poll's
// duration is passed on when it was held and came back empty.
func (s *pollStrategy) observe(held bool, elapsed, sincePrev time.Duration, tasks []model.Task) pollFacts {
	f := pollFacts{held: held, elapsed: elapsed, prevHeldEmpty: s.lastHeldEmpty, prevEnded: sincePrev}
	s.lastHeldEmpty = 0
	if held && len(tasks) == 0 {
		s.lastHeldEmpty = elapsed
	}
	return f
}

// queueWait is how long a task sat in the queue before this poll took it, by
// the server's own clock: startTime is set when a task is first handed to a
// worker, scheduledTime when it was queued. Only a task's first poll counts
// (a task handed out again keeps its first startTime).
func queueWait(t *model.Task) (time.Duration, bool) {
	if t.PollCount != 1 || t.ScheduledTime <= 0 || t.StartTime < t.ScheduledTime {
		return 0, false
	}
	return time.Duration(t.StartTime-t.ScheduledTime) * time.Millisecond, true
}
