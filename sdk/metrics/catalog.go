package metrics

// The catalog: every metric name, label name, fixed label value and default
// histogram bucket of this package, in one place. They are unexported on
// purpose: METRICS.md is where users read them (dashboards and alerts are
// written against the exposition, not against Go constants), and the tests
// check the scrape against METRICS.md, so the two cannot drift apart.

// Baton's names (NamesBaton). The first seven are the names documented for
// the original Conductor Go SDK and are kept exactly, so existing dashboards
// and alerts keep working even though they do not follow the
// "_total"/"_seconds" conventions. Every metric added by Baton follows those
// conventions, except task_update_time, which is named after its siblings
// task_poll_time and task_execute_time (all three are histograms in
// seconds).
const (
	nameTaskPollError    = "task_poll_error"    // counter {taskType, kind}
	nameTaskExecuteError = "task_execute_error" // counter {taskType, kind}
	nameTaskUpdateError  = "task_update_error"  // counter {taskType}
	nameTaskPollCounter  = "task_poll_counter"  // counter {taskType}
	nameTaskPollTime     = "task_poll_time"     // histogram {taskType}, seconds
	nameTaskExecuteTime  = "task_execute_time"  // histogram {taskType}, seconds
	nameTaskResultSize   = "task_result_size"   // histogram {taskType}, bytes

	nameTaskUpdateTime     = "task_update_time"           // histogram {taskType}, seconds
	nameTaskPolled         = "task_polled_total"          // counter {taskType}
	nameTaskPollResult     = "task_poll_result_total"     // counter {taskType, result}
	nameTaskExecuted       = "task_executed_total"        // counter {taskType, status}
	nameTaskInFlight       = "task_in_flight"             // gauge {taskType}
	nameTaskFreeSlots      = "task_free_slots"            // gauge {taskType}
	nameTaskPaused         = "task_paused"                // gauge {taskType}, 0 or 1
	nameTaskUpdateGiveUp   = "task_update_give_up_total"  // counter {taskType}
	nameTaskLeaseExtension = "task_lease_extension_total" // counter {taskType}

	nameHTTPRequests        = "conductor_http_requests_total"           // counter {endpoint, method, code}
	nameHTTPRequestDuration = "conductor_http_request_duration_seconds" // histogram {endpoint, method}
	nameTokenRefresh        = "conductor_token_refresh_total"           // counter {result}
)

// The cross-SDK catalog (NamesCrossSDK), as the other Conductor SDKs name
// their worker metrics; METRICS.md says where the list comes from.
const (
	nameXPollTotal         = "task_poll_total"                 // counter {taskType}
	nameXExecutionStarted  = "task_execution_started_total"    // counter {taskType}
	nameXPollErrorTotal    = "task_poll_error_total"           // counter {taskType, exception}
	nameXExecuteErrorTotal = "task_execute_error_total"        // counter {taskType, exception}
	nameXUpdateErrorTotal  = "task_update_error_total"         // counter {taskType, exception}
	nameXPollTime          = "task_poll_time_seconds"          // histogram {taskType, status}
	nameXExecuteTime       = "task_execute_time_seconds"       // histogram {taskType, status}
	nameXUpdateTime        = "task_update_time_seconds"        // histogram {taskType, status}
	nameXResultSize        = "task_result_size_bytes"          // histogram {taskType}
	nameXActiveWorkers     = "active_workers"                  // gauge {taskType}
	nameXHTTPRequest       = "http_api_client_request_seconds" // histogram {method, uri, status}
)

// Label names.
const (
	labelTaskType  = "taskType" // camelCase because the original documentation says so
	labelKind      = "kind"
	labelResult    = "result"
	labelStatus    = "status"
	labelEndpoint  = "endpoint"
	labelMethod    = "method"
	labelCode      = "code"
	labelException = "exception" // cross-SDK
	labelURI       = "uri"       // cross-SDK
)

// Fixed label values.
const (
	pollResultTasks = "tasks" // the poll returned at least one task
	pollResultEmpty = "empty" // the poll succeeded but the queue had nothing (a long wait that ran out)
	pollResultError = "error" // the poll failed

	tokenRefreshSuccess = "success"
	tokenRefreshError   = "error"

	// statusOther is the status of task_executed_total for a status outside
	// the four a worker may report.
	statusOther = "OTHER"

	// The status of the cross-SDK time histograms.
	statusSuccess = "SUCCESS"
	statusFailure = "FAILURE"
)

// defaultBuckets returns the default buckets of every histogram, keyed by
// metric name; the keys are also the names WithBuckets accepts. It builds
// fresh slices on each call, so no recorder can change another's.
func defaultBuckets() map[string][]float64 {
	// Baton's request durations: task_update_time and the HTTP request
	// histogram; the top buckets catch long polls and slow servers.
	request := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	// The cross-SDK catalog's buckets, as the other SDKs use them.
	crossTime := []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	return map[string][]float64{
		// A batch poll is a long poll: an idle queue answers only when the
		// poll timeout runs out, so the buckets reach well past 5 s.
		nameTaskPollTime: {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 7.5, 10, 15, 30},
		// Handlers range from in-memory transforms to long calls to other
		// systems: 1 ms to 10 min.
		nameTaskExecuteTime: {.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		// 64 B to 16 MiB, growing 4x.
		nameTaskResultSize:      {64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216},
		nameTaskUpdateTime:      request,
		nameHTTPRequestDuration: append([]float64(nil), request...),

		nameXPollTime:    crossTime,
		nameXExecuteTime: append([]float64(nil), crossTime...),
		nameXUpdateTime:  append([]float64(nil), crossTime...),
		nameXHTTPRequest: append([]float64(nil), crossTime...),
		nameXResultSize:  {100, 1000, 10000, 100000, 1000000, 10000000},
	}
}
