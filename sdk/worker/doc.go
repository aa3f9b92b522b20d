// Package worker runs Conductor task handlers: it polls task queues, runs a
// handler for each task and reports the result, and it keeps doing so through
// server outages, slow handlers and shutdowns without losing a result.
//
// # Starting workers
//
// A TaskRunner serves any number of task types. StartWorker and
// StartWorkerWithDomain keep the signatures of the original Go SDK; Start
// takes a context-first HandlerFunc and options:
//
//	runner := worker.NewTaskRunner(authSettings, httpSettings)
//	runner.Start("send_email", sendEmail, worker.BatchSize(20))
//	...
//	runner.Shutdown(ctx)
//
// Typed adapts a function over typed input and output structs. Inside a
// handler, TaskFromContext, LoggerFromContext, ExecutionIDFromContext and
// IdempotencyKey give access to the task, a logger with the task's fields, an
// id per execution and a key for side effects that is stable across retries.
//
// # Batching and slots
//
// The batch size of a worker is its number of execution slots: at most that
// many of its tasks run at once, each on a slot goroutine of its own. Slot
// goroutines are kept between tasks (their stacks stay grown), so a handler
// that changes its goroutine (pprof.SetGoroutineLabels, runtime.LockOSThread)
// must undo it before it returns, or use pprof.Do. One poller goroutine per
// (task type, domain) asks the server for min(free slots,
// batch size) tasks and, when every slot is busy, blocks until one frees up
// (no busy loop). A slot is freed only when its result has been delivered, so
// during an outage a worker stops taking work it could not report. A server
// that hands out more tasks than asked is tolerated: every task runs and is
// reported, and the next poll waits for enough free slots. Starting the same
// task type again adds slots, as in the original SDK; SetBatchSize,
// SetPollInterval, Pause and Resume take effect on the next poll.
//
// # Polling strategy
//
// Real Conductor servers treat a held (long) poll differently: 3.21 with its
// Redis queues never wakes one when a task arrives, 3.32 with its default
// SQLite store wakes one only when the whole batch asked for is there (it
// checks every 100 ms), and 3.32 with Redis stores wakes one at once. All of
// them answer a poll with timeout 0 at once. The strategy (strategy.go, with
// the measurements that chose its constants) follows from that:
//
//   - While tasks flow, a worker polls with timeout 0 for as many tasks as it
//     has free slots, so no server holds a partial batch.
//   - One scheduler per runner (scheduler.go) decides which idle workers
//     hold a poll; the others are watched. An idle worker with a permit
//     holds a poll for one task: for two and a half poll intervals while the
//     server is unknown (a probe; about 4 requests a second at the default
//     interval, fewer than the official SDK), and for 5 s once the runner
//     has seen three tasks in a row, each queued 100 ms or more into a held
//     poll, handed over within 150 ms (a waking server; an idle type then
//     costs one request per 5 s). A slow answer undoes that at once, so a
//     wrong guess costs one late task.
//   - Permits (WithMaxHeldPolls, default 4: a held poll keeps one
//     of the server's 200 request threads) follow traffic: a worker that
//     had a task within the last minute, more recently than the coldest
//     holder, takes that holder's permit at the holder's next idle wait.
//     Types without a task in the last minute share one permit, so a
//     process with many task types that never get one holds one poll for
//     them, not four, and idle types never keep a busy type waiting.
//     Workers that hold no poll (PollTimeout(0), paused, busy) hold no
//     permit.
//   - Held polls are given up where they do not pay. Every task queued
//     during a held poll is a sample: fast if the server handed it over
//     within 150 ms (a waking server's step is 100 ms at most), slow if it
//     answered later or let the poll end without it 150 ms or more before
//     the end, passed over if it let the poll end without it and the next
//     poll took it. Two slow samples among the last eight, or four in a
//     row that are not fast, end held polls for the runner: every idle
//     worker is watched. 3.21 (never wakes) and several 3.32 nodes behind
//     a load balancer (a node sees a task queued through another node up
//     to a second late) end there; on two 3.32.3 nodes the isolated-task
//     pickup p90 went from 252 ms probing (577 ms holding) to 107 ms,
//     against 94 ms for a loop polling every interval, and on 3.21.14 from
//     a probe's 220 ms to within one poll interval. Passed-over tasks are
//     how a fleet learns it: there the process that gets a task is the one
//     whose probe ends first, so the task has hardly waited (on 3.21.14
//     with five processes about 1 task in 100 was slow); one 3.32.3 node
//     passes none over (50 of 50 samples fast with SQLite).
//   - Watched workers: one runner goroutine asks the server for
//     the queue sizes of all of them (GET /tasks/queue/sizes, about a hundred
//     task types per request) once per poll interval and wakes the workers
//     whose queue has tasks. A queue whose tasks are not yet due (callbacks)
//     wakes its worker at most once a second, until a check finds it empty
//     (in a fleet, a worker that finds nothing has mostly been beaten to
//     the task by another process). Each watched queue is checked once
//     per poll interval counted from when it was last looked at, whatever
//     wakes its worker meanwhile. Quiet queues (no task for a minute, or
//     none since the worker started) are looked at less often when there
//     are many: at most 5 lookups per poll interval go to them, all named
//     in one request per period, and each is looked at at least once a
//     second (a quiet worker holding the shared permit probes as long):
//     every queue looked at is a store lookup on the server, and 50
//     processes watching 50 idle types each took Conductor 3.21.14's whole
//     CPU. A runner with up to 5 quiet types sees no difference; with 50,
//     the first task of a quiet type waits up to a second at the default
//     interval, and its next tasks one interval. A queue missing from an
//     answer, or a
//     failed check, lets its worker poll instead. On a server that answers
//     3 times over 3 s that it lacks the endpoint, the watcher lets 4 such
//     workers poll per poll interval, in turn (not one poll per type), and
//     asks for queue sizes again 5 minutes later.
//   - Pause and batch-size changes are read again right before every poll:
//     no poll starts after Pause returns.
//
// WithPollTimeout and PollTimeout fix the held poll's timeout instead; 0
// means the classic loop: poll with timeout 0, then wait the poll interval.
// WorkerStatus.IdleWait shows which way each worker waits.
//
// Poll errors back off exponentially with jitter from 100 ms up to
// 5 s and recover with the first successful poll. Repeated errors
// are logged once, then summarised at most every 30 s.
//
// # Results
//
// What a handler returns becomes the result as HandlerFunc describes. A
// panic becomes a FAILED result with the panic value and a
// trimmed stack; the runner keeps going. Each result is posted until the
// server accepts it, rejects it for good (a 4xx other than 401, 403, 408
// and 429: the task no longer exists, or the result is invalid), or the
// shutdown deadline passes. Attempts back off from 100 ms to
// 5 s with jitter, honour Retry-After, and each has its own
// timeout (10 s). A result that cannot be delivered is never
// dropped silently: it is logged at error level, counted
// (Recorder.UpdateGaveUp, WorkerStatus.UpdateGiveUps) and passed to
// Hooks.OnUpdateGaveUp. The server then times the task out and retries it:
// execution is at least once, so handlers with side effects should use
// IdempotencyKey.
//
// With WithUpdateV2(true), and where the server offers POST
// /tasks/update-v2, a slot posts its result and receives its next task in
// the same round trip while the worker's queue has a backlog (its last poll
// filled every free slot), which saves polls. It is off by default:
// Conductor fetches that next task with a poll held for 100 ms, which holds a
// server thread per busy slot whenever the queue runs dry. On Conductor
// 3.21.14 (Redis), three alternating rounds over 300-1,000 queued one-task
// workflows on a shared 2-core VM gave, plain updates vs update-v2, medians
// of 394 vs 229 tasks/s at batch 10 and 500 vs 369 at batch 100; at batch 1
// update-v2's median was higher (176 vs 137) but plain updates won two of the
// three rounds. It is not used while the worker is paused, shutting down or
// above its batch size, and a server without it is detected on the first
// attempt.
//
// # Long-running tasks
//
// A handler may return IN_PROGRESS with CallbackAfterSeconds (a
// *model.TaskResult) to have the server hand the task back later, or simply
// keep running: while a handler runs longer than half the task's
// responseTimeoutSeconds, the runner sends an extendLease update every half
// period so the server does not time the task out. The handler's context
// carries a deadline when the task definition has a timeoutSeconds.
//
// # Shutdown
//
// Shutdown(ctx) starts no poll; a poll already out is read to its end (at
// most its 5 s timeout), because Conductor 3.32 hands a task to a held poll
// whose client has gone and leaves it IN_PROGRESS for its response timeout.
// What such a poll brings runs, or after the deadline is handed back to its
// queue at once. Shutdown lets running handlers finish and pending results be delivered until ctx
// ends, then cancels handler contexts with cause ErrShutdown and returns an
// error naming the tasks that were not drained. WaitWorkers blocks until
// every goroutine of the runner has ended. A typical program:
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	<-ctx.Done()
//	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
//	defer cancel()
//	if err := runner.Shutdown(shutdownCtx); err != nil {
//		log.Print(err)
//	}
//	runner.WaitWorkers()
//
// # Observability
//
// WithLogger, WithMetrics and WithHooks plug in a logger, a Recorder
// and callbacks. Without them the runner logs to a new logrus logger at info
// level and, when the program imports sdk/metrics, records to
// metrics.DefaultRecorder (client_golang's default registry, which
// metrics.ProvideMetrics serves when given no registry: the original SDK's
// recipe); sdk/worker itself does not link client_golang. Workers lists the state of every worker and
// StatusHandler serves it as JSON for readiness probes.
//
// # Failures
//
// What the runner does about a failed call comes from the client's one
// failure table, retry.Decide, spelled out per call in RELIABILITY.md
// ("Failure model"). In short: polls are retried with backoff for as long
// as the worker runs; a result is retried until the shutdown deadline while
// a later attempt may succeed, given up at once when it cannot (a 4xx: the
// task is gone, the result invalid), and after retry.FewAttempts
// on a 500 with Conductor's "retryable": false; a failed update-v2 post goes
// again as a plain update, which is harmless to repeat. Every give-up is
// logged, counted, passed to Hooks.OnUpdateGaveUp and frees its slot. A
// polled task that cannot be decoded (a 400-digit integer in its input, a
// field of the wrong type) is failed at once with FAILED_WITH_TERMINAL_ERROR
// and a reason naming the field, while the rest of its batch runs.
//
// # Misconfiguration
//
// A worker whose server answers prove the configuration wrong stops instead
// of polling for ever. The proof is a few answers in a row, to its polls or
// its result posts, over at least fifteen seconds (so that a proxy's blip
// during a deployment, an identity provider's restart or a key rotation is
// survived), that were 404 to a poll (Conductor answers a poll for an
// unknown task type with an empty list, so a 404 means a base URL that
// misses the API, typically its /api), a web page where the API should be,
// 401/403 after a fresh token or at the token request, or a failed TLS
// verification. The worker logs one error line naming the URL and the
// likely fix, calls Hooks.OnFatalError, gives up the results it was still
// retrying, and WaitWorkers returns once every worker has stopped;
// TaskRunner.Err then says why (a *ConfigError matching ErrMisconfigured)
// and StatusHandler answers 503 with the reason. A stopped worker does not
// retry later: the process should end and be restarted by its orchestrator,
// which also picks up a corrected configuration. Connection errors,
// timeouts, 5xx and 429 never stop a worker: they are retried with backoff
// and shown in Workers.
//
// # Operating workers
//
// Deployment-time configuration: the runner reads conductor.worker.all.*
// and conductor.worker.<taskName>.* (or CONDUCTOR_WORKER_ALL_* and
// CONDUCTOR_WORKER_<TASKNAME>_*) when it is created, as the Java and Python
// SDKs do, and applies them over the code's options at Start (envconfig.go,
// WithEnviron). WithMiddleware and Wrap wrap handlers; WithTracerProvider
// adds OpenTelemetry spans and continues a W3C traceparent found in the task
// input (tracing.go); Log and Logf add lines to the task's execution log.
// Task definitions with JSON Schemas of a typed handler's types are built
// and registered by sdk/taskdef.
//
// # Fixed values
//
// These are not options; they are written here so that a reader of a log or
// a metric knows them. A worker starts with 1 slot and a 100 ms poll
// interval (the least accepted is 1 ms). A held poll lasts at most 5 s (the
// server's cap), and each poll request may take 10 s longer than its hold
// before it is abandoned. A runner holds at most 4 polls at once. One poll
// asks for at most 100 tasks; a worker with a backlog and only some slots
// free waits up to 20 ms for half of them to free up. Poll errors and result posts
// back off from 100 ms to 5 s with jitter; each post attempt has 10 s, and a
// result still undelivered after 3 attempts is logged at warning level. A
// failing worker summarises its errors at most every 30 s. Lease extensions
// (IN_PROGRESS updates of a long task) are at least 500 ms apart. The
// execution log (Log, Logf) keeps 500 lines and 64 KiB per execution and
// cuts a line at 4 KiB.
package worker
