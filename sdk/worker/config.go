package worker

import (
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/clientwire"
)

// Defaults, limits and fixed values (the package documentation lists them
// under "Fixed values"). Each default is used when the corresponding option
// is not given; the limits are enforced when an option is applied.
const (
	// batchSizeDefault is the number of execution slots of a worker started
	// with Start and no BatchSize option.
	batchSizeDefault = 1

	// pollIntervalDefault is how long a poller waits after an empty answer
	// that came back at once (a server that does not hold long polls, or a
	// worker configured with PollTimeout(0)). After an empty answer that did
	// wait, the next poll is sent immediately.
	pollIntervalDefault = 100 * time.Millisecond

	// pollIntervalMin is the smallest poll interval accepted.
	pollIntervalMin = time.Millisecond

	// pollTimeoutMax is the longest long-poll wait the server accepts (Conductor
	// answers 400 above 5000 ms).
	pollTimeoutMax = clientwire.MaxPollTimeout

	// pollTimeoutDefault is the timeout of an idle worker's held poll once
	// the server has shown that it answers a held poll as soon as a task is
	// queued (Conductor 3.32 with Redis stores, the dev server in its early
	// mode): an idle worker then makes one request per 5 s and still picks a
	// new task up within milliseconds. See strategy.go and the package
	// documentation for the other servers.
	pollTimeoutDefault = pollTimeoutMax

	// heldPollsDefault is how many held (long) polls a runner keeps open on
	// the server at once unless WithMaxHeldPolls says otherwise. Each holds
	// one of the server's request threads (Tomcat's pool has 200 by
	// default), so a fleet of 25 processes holds at most half of them; idle
	// workers beyond the bound wait on the runner's queue watcher, which
	// holds none.
	heldPollsDefault = 4

	// pollCoalesce is the longest a worker whose queue has a backlog waits
	// for half its slots to be free before it polls again. Without it, slots
	// that finish one at a time each cost a poll for one task: on Conductor
	// 3.21.14 that was 2.00 requests per task at batch 10 and 100, against
	// 1.21 and 1.02 for the official SDK (whose polls the server holds for
	// 100 ms, filling them), and the server's CPU per request capped
	// throughput at 0.78x the official SDK's. Handlers that finish within
	// milliseconds free half the slots well within this; slow handlers lose
	// at most this much per poll.
	pollCoalesce = 20 * time.Millisecond

	// pollCountMax is the most tasks one poll asks for: the client's cap
	// (100, what Conductor 3.21 hands out at most).
	pollCountMax = clientwire.MaxPollCount

	// pollRequestSlack is added to the long-poll timeout to give each poll
	// request its own deadline, so a server that never answers cannot stall a
	// poller.
	pollRequestSlack = 10 * time.Second

	// pollBackoffMin is the nominal wait after the first failed poll; it
	// doubles with each further failure (with jitter) up to pollBackoffMax.
	pollBackoffMin = 100 * time.Millisecond

	// pollBackoffMax caps the wait between failed polls, and so bounds how long
	// a worker needs to notice that the server is back.
	pollBackoffMax = 5 * time.Second

	// updateBackoffMin is the nominal wait before the first retry of a result
	// the server did not accept; it doubles up to updateBackoffMax.
	updateBackoffMin = 100 * time.Millisecond

	// updateBackoffMax caps the wait between attempts to post a result. A
	// Retry-After sent by the server is honoured even when longer.
	updateBackoffMax = 5 * time.Second

	// updateAttemptTimeout is the deadline of each single attempt to post a
	// result; every attempt gets a fresh context.
	updateAttemptTimeout = 10 * time.Second

	// updateWarnAfter is the number of failed attempts for one result after
	// which the failure is logged at warn level (earlier ones at debug).
	updateWarnAfter = 3

	// errorLogInterval is how often a worker that keeps failing logs a
	// summary line. The first failure of a streak is logged at once; the rest
	// are counted and summarised, so an outage gives a bounded number of lines.
	errorLogInterval = 30 * time.Second

	// leaseExtendMinPeriod is the shortest interval between two lease
	// extensions of one task.
	leaseExtendMinPeriod = 500 * time.Millisecond
)

// Option configures a TaskRunner.
type Option func(*runnerConfig)

type runnerConfig struct {
	workerID     string
	pollTimeout  time.Duration
	pollTimeoutS bool // pollTimeout was set: no adaptation
	maxHeld      int
	maxHeldSet   bool
	logger       logrus.FieldLogger
	recorder     Recorder
	hooks        Hooks
	clock        clockSource
	deferStart   time.Duration
	updateV2     bool       // WithUpdateV2
	env          *workerEnv // deployment-time configuration (envconfig.go)
	middleware   []Middleware
	tracing      *tracing // nil: no tracing (tracing.go)
	err          error
}

func (c *runnerConfig) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// WithWorkerID sets the worker id sent with polls and results. Default: the
// host name (or "baton-worker" when it cannot be read).
func WithWorkerID(id string) Option {
	return func(c *runnerConfig) {
		if id == "" {
			c.fail(fmt.Errorf("worker: WithWorkerID: workerID must not be empty"))
			return
		}
		c.workerID = id
	}
}

// WithPollTimeout sets the long-poll timeout of every worker of the runner
// (0 .. 5 s, the server's cap; 0 means the server answers at once and the worker
// waits its poll interval after an empty answer). A fixed timeout turns off
// the adaptive default described in the package documentation. A worker's
// own PollTimeout option overrides it.
func WithPollTimeout(d time.Duration) Option {
	return func(c *runnerConfig) {
		if err := checkPollTimeout(d); err != nil {
			c.fail(fmt.Errorf("worker: WithPollTimeout: %w", err))
			return
		}
		c.pollTimeout, c.pollTimeoutS = d, true
	}
}

// WithMaxHeldPolls bounds the held (long) polls the runner keeps open on the
// server at once (default 4); the runner's scheduler gives
// them to the task types with recent tasks. 0 means none: idle workers only
// watch their queues (or poll in turn where the server cannot report queue
// sizes).
func WithMaxHeldPolls(n int) Option {
	return func(c *runnerConfig) {
		if n < 0 {
			c.fail(fmt.Errorf("worker: WithMaxHeldPolls: n must be >= 0, got %d", n))
			return
		}
		c.maxHeld, c.maxHeldSet = n, true
	}
}

// WithLogger sets the logger used for everything the runner logs and the
// base of the logger handlers get from LoggerFromContext. Default: a new
// logrus.Logger at info level writing to stderr (never the global one).
func WithLogger(l logrus.FieldLogger) Option {
	return func(c *runnerConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithMetrics sets the recorder the runner reports its measurements to.
// Default: metrics.DefaultRecorder(), on client_golang's default registry,
// which metrics.ProvideMetrics serves when given no registry (the original
// SDK's recipe). Pass a recorder on your own registry to keep the runner
// off global state, or NopRecorder{} to record nothing.
func WithMetrics(r Recorder) Option {
	return func(c *runnerConfig) {
		if r != nil {
			c.recorder = r
		}
	}
}

// WithHooks sets callbacks for runner events. Nil fields are skipped.
func WithHooks(h Hooks) Option {
	return func(c *runnerConfig) { c.hooks = h }
}

// WithDeferredStart delays the first poll of every worker by d after it was
// started, e.g. to let the rest of a process warm up. Shutdown cancels the
// wait.
func WithDeferredStart(d time.Duration) Option {
	return func(c *runnerConfig) {
		if d < 0 {
			c.fail(fmt.Errorf("worker: WithDeferredStart: delay must be >= 0, got %v", d))
			return
		}
		c.deferStart = d
	}
}

// WithUpdateV2 makes workers post results with POST /tasks/update-v2, which
// hands back the next task of the same type in the same round trip, while
// their queue has a backlog. Default: off. Conductor looks for that next
// task with a poll held for 100 ms (ExecutionService.getLastPollTask), which
// occupies a server request thread per busy slot whenever the queue runs dry,
// and on Conductor 3.21.14 (Redis) plain updates with batch polls moved more
// tasks per second at batch 10 and 100 and about as many at batch 1 (see the
// package documentation for the numbers).
func WithUpdateV2(on bool) Option {
	return func(c *runnerConfig) { c.updateV2 = on }
}

// WorkerOption configures one worker started with Start.
type WorkerOption func(*workerConfig)

type workerConfig struct {
	batchSize    int
	pollInterval time.Duration
	pollTimeout  time.Duration
	pollTimeoutS bool
	domain       string
	middleware   []Middleware
	// set by the environment only (envconfig.go)
	paused  bool
	noLease bool
	sources map[string]string // property -> variable that set it
	err     error
}

func (c *workerConfig) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// BatchSize sets the number of execution slots (tasks run at the same time)
// and the most tasks one poll asks for. Default: 1.
func BatchSize(n int) WorkerOption {
	return func(c *workerConfig) {
		if n < 1 {
			c.fail(fmt.Errorf("worker: batchSize must be >= 1, got %d", n))
			return
		}
		c.batchSize = n
	}
}

// PollInterval sets the wait after an empty answer that came back at once.
// Default: 100 ms; the least accepted is 1 ms.
func PollInterval(d time.Duration) WorkerOption {
	return func(c *workerConfig) {
		if d < pollIntervalMin {
			c.fail(fmt.Errorf("worker: pollInterval must be >= %v, got %v", pollIntervalMin, d))
			return
		}
		c.pollInterval = d
	}
}

// PollTimeout sets this worker's long-poll timeout (0 .. 5 s),
// overriding the runner's. Default: adaptive (see the package documentation).
func PollTimeout(d time.Duration) WorkerOption {
	return func(c *workerConfig) {
		if err := checkPollTimeout(d); err != nil {
			c.fail(fmt.Errorf("worker: %w", err))
			return
		}
		c.pollTimeout, c.pollTimeoutS = d, true
	}
}

// Domain makes the worker poll the task type's queue of the given domain
// only. Default: no domain.
func Domain(domain string) WorkerOption {
	return func(c *workerConfig) { c.domain = domain }
}

func checkPollTimeout(d time.Duration) error {
	if d < 0 || d > pollTimeoutMax {
		return fmt.Errorf("pollTimeout must be between 0 and %v, got %v", pollTimeoutMax, d)
	}
	if d%time.Millisecond != 0 {
		return fmt.Errorf("pollTimeout must be a whole number of milliseconds, got %v", d)
	}
	return nil
}
