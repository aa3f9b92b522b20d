// Package conductortest is an in-memory, Conductor-compatible server for
// tests, examples and local runs, in the spirit of net/http/httptest.
//
//	srv := conductortest.NewServer()
//	defer srv.Close()
//	// point a worker or client at srv.URL() ("http://127.0.0.1:PORT/api")
//
// It speaks the Conductor OSS REST API (3.21 and 3.32, see Version profiles
// below) for what a worker and its tests need: task and workflow definitions, starting, reading, terminating and
// removing workflows, single and batch polls with a real long poll, task
// updates (plain, update-v2 and by reference name), task logs, queue sizes,
// poll data and health. Status codes, text/plain answers and error bodies
// ({"status","message","instance","retryable"}) follow the real server.
//
// # Execution model
//
// Workflows run SIMPLE tasks in sequence; other task types are refused when
// the workflow starts, with a pointer to make test-conductor. Inputs are
// evaluated from ${workflow.input.x} and ${ref.output.y} expressions; the
// workflow output comes from its outputParameters, else the last task's
// output. A polled task becomes
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
// # Version profiles
//
// Conductor 3.21 and 3.32 answer some requests differently. WithVersion
// (cmd/conductor-dev: -conductor-version) picks the release line to imitate:
// Version332, the default (the release a new user starts on), or
// Version321. The 3.32 profile accepts definitions without ownerEmail,
// answers an unknown task with 404 (3.21: 204), an unsupported method with
// 405 (3.21: 500), serves /api/health, lists CANCELED among result
// statuses, accepts "logs": null, answers 204 for a task without logs,
// looks for a next task in update-v2 only after a terminal result, leaves a
// terminated workflow alone when terminated again, refuses to remove a
// running workflow before deleting anything, takes domain= for no domain,
// has no cap of 100 on a batch poll, refuses malformed search queries and
// long-polls in the full-batch mode; the 3.21 profile does as 3.21.14 does.
// docs/compatibility.md in the Baton repository lists every difference,
// including server bugs that neither profile copies.
//
// # Long polls and the request pool
//
// Batch polls with a timeout wait as one of three real servers does; pick
// one by name with WithLongPoll (cmd/conductor-dev: -long-poll), or let the
// version profile choose (full-batch for 3.32, hold for 3.21):
//   - "full-batch", the default: tasks are taken off the queue every
//     100 ms during the wait, and the poll answers at the first 100 ms step
//     at which it holds count tasks, else at the timeout with what it has.
//     Conductor 3.32's default SQLite store does this, and so does the
//     Postgres queue in every version (PostgresQueueDAO.pollMessages is the
//     same loop), which is what most production Conductor OSS deployments
//     that are not on Redis run. It is the default because it is what a new
//     user meets first and because a worker that does well here (asks for
//     what it can take, not more) does well on the others too.
//   - "early": answers as soon as one task is due. Conductor 3.32 with
//     Redis queues. The fastest for tests and benchmarks.
//   - "hold": Conductor 3.21 with Redis queues (dyno-queues). Unless
//     count tasks are there when the poll arrives, it waits the whole
//     timeout and then returns only the tasks that were there at the start;
//     a task scheduled meanwhile waits for the next poll.
//
// In every mode a poll with timeout 0 answers at once, and a waiting poll
// costs no CPU. In the 3.32 profile a held poll whose client goes away is
// served to its end, as Conductor 3.32 does: a task that arrives meanwhile
// is started for the departed worker and waits out its response timeout (a
// worker must not abandon held polls; see sdk/worker's Shutdown). In the
// 3.21 profile a full-batch or hold poll whose client goes away puts the
// tasks it had taken back at the head of the queue.
//
// WithMaxConcurrentRequests(n) (-max-concurrent-requests) serves at most n
// requests at once, the rest wait in arrival order, as on a real server's
// thread pool (200 Tomcat threads by default); then a worker that holds
// too many long polls open slows its own updates here as it would there.
// It is unbounded by default, so that benchmarks measure the server.
//
// # Performance
//
// The server is meant never to be the bottleneck of a worker benchmark. Its
// own benchmarks measure it from outside:
//
//	go test -run '^$' -bench 'ServerThroughput|LongPollWake' -benchtime 60000x ./sdk/conductortest/
//	go test -run '^$' -bench IdleLongPoll -benchtime 5x ./sdk/conductortest/
//
// BenchmarkServerThroughput runs the server in a child process and drives
// it over loopback with a lean HTTP/1.1 load generator (8 keep-alive
// connections, batch poll then one update per task), reporting tasks/s and
// the server's own CPU time, allocations and bytes per task.
// BenchmarkIdleLongPoll reports the server's CPU while 100 long polls wait
// (an iteration lasts a second), and
// BenchmarkLongPollWake the time from a start to the waiting poll's answer.
//
// # Fault injection
//
// SetFaults injects, per group of endpoints (Faults), error statuses with
// or without Retry-After, latency, answers dropped after the request took
// effect, malformed answers and over-delivering polls; ClearFaults ends
// them and Stats counts what was injected. Latency and errors are
// decided when a request arrives, dropped and malformed answers when the
// answer is sent, so ClearFaults also spares a long poll that was already
// waiting. Down makes the server refuse connections and cut the open ones,
// as an outage would, until Up or for a given time.
//
// # Tests
//
// RegisterTaskDefs, RegisterWorkflowDef, StartWorkflow and Terminate set
// the scene without HTTP. Introspection (Updates, Task,
// TasksByStatus, Workflow, WorkflowsByStatus, QueueSize, Stats,
// WaitWorkflows) lets tests assert from the server's side, e.g. that every
// task got exactly one update. Advance moves the server clock so that retry
// delays and timeouts need no waiting: what falls due in the skipped time
// has happened when it returns.
//
// WithAuth turns on the Orkes token flow: POST /api/token with the key id
// and secret returns {"token": ...}; every other request needs the token in
// X-Authorization, else 401 with "error" INVALID_TOKEN or EXPIRED_TOKEN.
//
// This package's own black-box tests talk to the server over HTTP only, so
// they also run against a real server: with CONDUCTORTEST_TARGET=remote they
// use the server at CONDUCTOR_SERVER_URL instead of starting one.
//
//	CONDUCTORTEST_TARGET=remote CONDUCTOR_SERVER_URL=http://127.0.0.1:8080/api \
//		go test -race -count=1 ./sdk/conductortest/
//
// make test-conductor does this against Conductor OSS (test/conductor/run.sh,
// which also gives it a 1 s taskExecutionPostponeDuration to match the
// tests' WithPostponeDuration). Every name a test registers carries a random
// suffix, because a real server keeps its state; waits for what the server
// does on its own (sweeper, callbacks, retry delays) poll with a deadline. A
// test that needs the fake clock, fault injection, introspection, token
// authentication or an option skips itself there and says why.
// On the dev server the tests of long polls and timeouts stop its clock (an
// option of the tests only), so that it moves only with Advance and no
// outcome depends on how fast the machine runs them.
//
// # Differences from Conductor OSS
//
// The integration suite in test/integration and this package's black-box
// tests run against this server in both profiles and against Conductor OSS
// 3.21.14 and 3.32.3 (make test-conductor), asserting each version's
// answers where they differ; the tests in oss_test.go check what was seen
// on the real servers: status codes,
// Content-Types, empty answers, error bodies (validationErrors paths such as
// registerTaskDef.arg0[0].ownerEmail, invalidValue as a string, no instance
// on validation errors), the fields and zero values of tasks, workflows and
// definitions, 204 and [] answers, update-v2, by-reference updates,
// requeue, terminate and remove. Where the two differ, this server follows
// the real one, except for these differences, kept on purpose or not
// reproduced:
//   - Long polls follow the mode chosen with WithLongPoll (full-batch
//     unless told otherwise, where 3.21.14 with Redis holds; see above).
//   - update-v2 with nothing due answers 204 at once (the real one after one
//     100 ms poll).
//   - Timeouts (response, poll, total, workflow) fire on time; the real
//     sweeper acts up to about 30 s late (and 3.32.3 was seen never
//     retrying a task past its response timeout).
//   - Task logs are kept and GET /api/tasks/{id}/log returns them; 3.21's
//     default configuration drops them and always answers [] (3.32 with
//     SQLite keeps them). Tests can then read what a worker logged.
//   - Tasks are handed out in scheduling order. The real Redis queue orders
//     by workflow priority in a way that was only observed, not documented
//     (tasks of workflows with a nonzero priority came before those with 0,
//     lower numbers first: 10 before 99 before 0), so it is not imitated.
//   - Only SIMPLE tasks run. A workflow with other task types (as
//     sdk/workflow builds them) registers, but starting it is refused with a
//     400 that names the task and its type and points to make
//     test-conductor, which runs such workflows on real servers. Pause,
//     resume, retry, restart, rerun, skip and the correlation-id look-ups
//     are not served (test/integration checks the client's calls for them
//     against the real servers). Search answers {"totalHits":0,
//     "results":[]}, as the real server does with indexing off (3.32 with
//     SQLite indexes and finds workflows).
//   - 500 answers carry the real server's message for the cases seen (enum
//     values, Content-Type, missing status, "logs": null, wrong method,
//     missing or unconvertible parameters, null list elements) but Go's
//     wording after "JSON parse error: " for malformed JSON, and no Java
//     method signature after "Required request body is missing".
//   - Numbers are float64, except that a workflow input number beyond
//     float64 (a 400-digit integer, which Conductor keeps as a BigInteger)
//     is kept as it came, as on the real server; elsewhere such a number is
//     a 500.
//   - An update with "logs": null is applied and then answered 500 on both;
//     the real server leaves the workflow to its sweeper (the next task is
//     scheduled up to 30 s later), this one evaluates it at once.
//   - Removing a workflow that has not ended, with archiving (the default),
//     deletes it and answers 400 on both; the real server leaves its queued
//     tasks in the queue (queue sizes count them) until a poll drops them,
//     this one drops them at once.
//   - JSON objects (inputData, outputData, ...) are written with sorted
//     keys; the real server's order comes from hash maps. Clients must not
//     depend on either.
//   - Validation errors come in a fixed order; the real server's order
//     varies (they come from a hash set).
//   - /actuator/health answers 503 {"status":"DOWN"} without the component
//     details, and /api/tasks/queue/all lists only the queues that were used
//     (the real one also lists its system task queues).
//
// Running the black-box tests against OSS 3.21.14 found these differences,
// which this server now follows: a bare JSON null body is a missing body
// (500) on every endpoint that takes one; "tasks": null in a workflow
// definition is a 500 from the validator (absent tasks are the 400 "cannot
// be empty"); a null among task definitions is a 500 after the ones before
// it are stored, and among workflow definitions a 400 on "<list element>";
// an update with "logs": null changes the task before it fails; remove of a
// running workflow answers 400 "Cannot archive workflow" unless
// archiveWorkflow=false; DELETE /api/workflow/{id}/terminate-remove is
// served; boolean parameters take Spring's spellings (yes, on, 1, ...); and
// unconvertible parameters get Spring's message.
package conductortest
