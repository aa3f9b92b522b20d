// Package conductortest is an in-memory, Conductor-compatible server for
// tests, examples and local runs, in the spirit of net/http/httptest.
//
//	srv := conductortest.NewServer()
//	defer srv.Close()
//	// point a worker or client at srv.URL() ("http://127.0.0.1:PORT/api")
//
// It speaks the Conductor OSS v3.21 REST API for what a worker and its tests
// need: task and workflow definitions, starting, reading, terminating and
// removing workflows, single and batch polls with a real long poll, task
// updates (plain, update-v2 and by reference name), task logs, queue sizes,
// poll data and health. Status codes, text/plain answers and error bodies
// ({"status","message","instance","retryable"}) follow the real server.
//
// # Execution model
//
// Workflows run SIMPLE tasks in sequence; other task types are refused when
// the workflow starts. Inputs are evaluated from ${workflow.input.x} and
// ${ref.output.y} expressions; the workflow output comes from its
// outputParameters, else the last task's output. A polled task becomes
// IN_PROGRESS; an IN_PROGRESS update puts it back to SCHEDULED, pollable
// again after callbackAfterSeconds. FAILED and timed-out tasks are retried as
// new tasks per the task definition (retryCount, retryLogic,
// retryDelaySeconds, backoffScaleFactor, or the WorkflowTask's retryCount);
// FAILED_WITH_TERMINAL_ERROR is never retried; an optional task that fails
// for good becomes COMPLETED_WITH_ERRORS. responseTimeoutSeconds,
// timeoutSeconds, pollTimeoutSeconds and the workflow timeout fire on time
// (the real server may be up to 30 s late). Tasks without a registered
// definition get the real server's ad-hoc default (3 retries, 60 s apart,
// response timeout 3600 s). taskToDomain, concurrentExecLimit and
// rateLimitPerFrequency act as on the real server (refused tasks are
// postponed; see WithPostponeDuration).
//
// A long poll answers as soon as at least one task is due (including a
// delayed retry or callback), else after its timeout; a waiting poll costs
// no CPU. (The Redis-backed real server never answers early; the SQLite one
// re-checks every 100 ms. Answering early is compatible with both.)
//
// # Tests
//
// Introspection (Updates, AllUpdates, Task, TasksByStatus, Workflow,
// WorkflowsByStatus, QueueSize, Stats, WaitWorkflows) lets tests assert
// from the server's side, e.g. that every task got exactly one update.
// Advance moves the server clock so that retry delays and timeouts need no
// waiting. SetFaults injects errors, latency, dropped and malformed answers
// and over-delivery per group of endpoints; Down, Up and DownFor make the
// server refuse connections.
//
// WithAuth turns on the Orkes token flow: POST /api/token with the key id
// and secret returns {"token": ...}; every other request needs the token in
// X-Authorization, else 401 with "error" INVALID_TOKEN or EXPIRED_TOKEN.
//
// # Differences from Conductor OSS 3.21.14
//
// The integration suite in test/integration runs unchanged against this
// server and against Conductor OSS 3.21.14 (make test-conductor). Where the
// two were seen to differ, this server follows the real one (an unknown task
// id answers 204, logs answer 200 with a list, ALERT_ONLY timeouts do
// nothing), except for these deliberate or not yet reproduced differences:
//   - Long polls answer as soon as one task is due; the real server's Redis
//     queue sleeps the whole timeout on an empty queue and holds a partial
//     batch until the timeout ends. Faster tests and benchmarks; the worker
//     copes with both (see sdk/worker).
//   - Timeouts fire on time; the real sweeper acts up to about 30 s late.
//   - Task logs are kept (the real server's default configuration drops
//     them), so tests can read what a worker logged.
//   - update-v2 with nothing queued answers 204 at once (the real one after
//     one 100 ms poll).
//   - Tasks are handed out in scheduling order; the real server prefers
//     higher workflow priority.
//   - Only SIMPLE tasks run; other task types are refused at start with 400.
//     Pause/resume/retry/restart/rerun, search and requeue are not served.
//   - Error texts of bean validation (the validationErrors paths, which on
//     the real server name Java method parameters such as
//     registerTaskDef.arg0[0].ownerEmail), of unknown references and of a
//     priority above 99 are worded differently; status codes match.
//   - A status value that is not a TaskResultStatus is refused with 400, a
//     text/plain update body with 404, and "logs": null is accepted; the real
//     server answers all three with 500 and a Java exception text. The SDK
//     sends none of them.
//   - domain= (present but empty) is treated as no domain; the real server
//     polls a queue named ":type". The SDK never sends an empty domain.
//   - A workflow ended by a TIME_OUT_WF task timeout gets the "Task ...
//     failed with status" reason, where the real server uses the timeout
//     text itself; a terminated workflow has no output map (real: {}).
package conductortest
