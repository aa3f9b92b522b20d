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
// many of its tasks run at once, each on its own goroutine. One poller
// goroutine per (task type, domain) asks the server for min(free slots,
// batch size) tasks and, when every slot is busy, blocks until one frees up
// (no busy loop). A slot is freed only when its result has been delivered, so
// during an outage a worker stops taking work it could not report. A server
// that hands out more tasks than asked is tolerated: every task runs and is
// reported, and the next poll waits for enough free slots. Starting the same
// task type again adds slots, as in the original SDK; SetBatchSize,
// SetPollInterval, Pause and Resume take effect on the next poll.
//
// # Long polls and the default poll timeout
//
// Polls are long polls: the server holds the request until a task is due or
// the timeout passes, so an idle worker costs one request per timeout and,
// on a server that answers as soon as a task is due (the dev server in
// sdk/conductortest, newer Conductor versions), a new task is picked up
// within milliseconds. Conductor 3.21 with its Redis queue does not answer
// early: it sleeps the whole timeout on an empty queue, so a task arriving
// during the wait waits for the timeout to end.
//
// The default therefore adapts. A runner starts with PollTimeoutUnproven
// (2.5 s: about 24 requests a minute per idle worker, and a median pickup of
// about 1.25 s on a server that does not answer early). When it has seen a few
// polls come back with tasks well after the round-trip time but well before
// the timeout, which only a server that answers early does, it switches to
// PollTimeoutDefault (5 s, the server's maximum: 12 requests a minute per
// idle worker). Until then, the poll after one that brought tasks uses
// PollTimeoutFlowing (100 ms): Conductor 3.21 also holds a poll that found
// fewer tasks than it asked for until its timeout ends, which would otherwise
// add 2.5 s to every partial batch while work is flowing. The original SDK polls with the server's 100 ms default and
// sleeps the poll interval after an empty answer: about 300 requests a
// minute. After an empty answer that did wait, the next poll goes out at
// once; after an empty answer that came back at once (a server that ignores
// the timeout, or PollTimeout(0)), the worker waits its poll interval, with
// jitter. WithPollTimeout and PollTimeout set a fixed timeout instead.
//
// Poll errors back off exponentially with jitter from PollBackoffMin up to
// PollBackoffMax and recover with the first successful poll. Repeated errors
// are logged once, then summarised at most every ErrorLogInterval.
//
// # Results
//
// What a handler returns becomes the result as model.ResultOf describes (see
// HandlerFunc). A panic becomes a FAILED result with the panic value and a
// trimmed stack; the runner keeps going. Each result is posted until the
// server accepts it, rejects it for good (a 4xx other than 401, 403, 408
// and 429: the task no longer exists, or the result is invalid), or the
// shutdown deadline passes. Attempts back off from UpdateBackoffMin to
// UpdateBackoffMax with jitter, honour Retry-After, and each has its own
// timeout (UpdateAttemptTimeout). A result that cannot be delivered is never
// dropped silently: it is logged at error level, counted
// (metrics.Recorder.UpdateGaveUp, WorkerStatus.UpdateGiveUps) and passed to
// Hooks.OnUpdateGaveUp. The server then times the task out and retries it:
// execution is at least once, so handlers with side effects should use
// IdempotencyKey.
//
// Where the server offers POST /tasks/update-v2, a slot posts its result
// and receives its next task in the same round trip, which saves the poll.
// It is not used while the worker is paused, shutting down or above its
// batch size. A server without it is detected on the first attempt and the
// runner uses plain updates from then on.
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
// Shutdown(ctx) stops polling at once (waiting long polls are cancelled),
// lets running handlers finish and pending results be delivered until ctx
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
// WithLogger, WithMetrics and WithHooks plug in a logger, a metrics.Recorder
// and callbacks. Without them the runner logs to a new logrus logger at info
// level and records to metrics.DefaultRecorder (client_golang's default
// registry, which metrics.ProvideMetrics serves when given no registry: the
// original SDK's recipe). Workers lists the state of every worker and
// StatusHandler serves it as JSON for readiness probes.
//
// # Misconfiguration
//
// A worker whose server answers prove the configuration wrong stops instead
// of polling for ever. The proof is a few polls in a row, over about three
// seconds (so that a proxy's blip during a deployment is survived), that
// were answered 404 (Conductor answers a poll for an unknown task type with
// an empty list, so a 404 means a base URL that misses the API, typically
// its /api) or with a web page, refused with 401/403 after a fresh token or
// at the token request, or that failed TLS verification. The worker logs one
// error line naming the URL and the likely fix, calls Hooks.OnFatalError,
// and WaitWorkers returns once every worker has stopped; TaskRunner.Err then
// says why (a *ConfigError matching ErrMisconfigured). Connection errors,
// timeouts, 5xx and 429 never stop a worker: they are retried with backoff
// and shown in Workers.
package worker
