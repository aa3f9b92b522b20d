package client

// Hot-path micro-benchmarks of the client, one per step a task takes
// through it: decoding a poll answer as Conductor sends it (every field of
// a SIMPLE task), encoding a result, and the whole request (headers, resty,
// transport, answer) of a poll and of an update over an in-memory
// transport without authentication, as a worker against Conductor OSS
// makes them. make bench-micro runs them; a regression shows without a
// server.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// conductorTask is one SIMPLE task as Conductor 3.32 answers a poll.
const conductorTask = `{"taskType":"bench","status":"IN_PROGRESS","inputData":{"orderId":%d,"items":["a","b"],"customer":{"id":"c-1","tier":"gold"}},` +
	`"referenceTaskName":"only","retryCount":0,"seq":1,"pollCount":1,"taskDefName":"bench","scheduledTime":1765000000000,"startTime":1765000000010,` +
	`"endTime":0,"updateTime":1765000000010,"startDelayInSeconds":0,"retried":false,"executed":false,"callbackFromWorker":true,"responseTimeoutSeconds":600,` +
	`"workflowInstanceId":"wf-%d","workflowType":"wf_bench","taskId":"task-%d","callbackAfterSeconds":0,"workerId":"bench","outputData":{},` +
	`"workflowTask":{"name":"bench","taskReferenceName":"only","inputParameters":{},"type":"SIMPLE","startDelay":0,"optional":false,"asyncComplete":false,"permissive":false},` +
	`"rateLimitPerFrequency":0,"rateLimitFrequencyInSeconds":1,"workflowPriority":0,"iteration":0,"subworkflowChanged":false,"firstStartTime":0,` +
	`"taskDefinition":{"name":"bench","retryCount":0,"timeoutSeconds":0,"responseTimeoutSeconds":600,"timeoutPolicy":"TIME_OUT_WF","retryLogic":"FIXED","ownerEmail":"bench@example.com"},` +
	`"queueWaitTime":10,"loopOverTask":false,"taskStatus":"IN_PROGRESS"}`

func conductorBatch(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, conductorTask, i, i, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// plainClient is a client without authentication (Conductor OSS) whose
// transport answers every request with status, content type and body;
// chunked leaves the length unknown, as Conductor sends poll answers.
func plainClient(b *testing.B, status int, ctype string, body []byte, chunked bool) *APIClient {
	n := int64(len(body))
	if chunked {
		n = -1
	}
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			_ = r.Body.Close()
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {ctype}},
			Body: io.NopCloser(bytes.NewReader(body)), Request: r, ContentLength: n}, nil
	})
	c, err := New(nil, settings.NewHttpSettings("http://conductor.test/api"), WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkHotPathPollDecode decodes a poll answer of 1, 10 and 100 tasks
// as Conductor sends them (the SDK's decoder, per batch).
func BenchmarkHotPathPollDecode(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		data := conductorBatch(n)
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var ts []model.Task
				if err := unmarshalTasks(data, &ts); err != nil || len(ts) != n {
					b.Fatal(len(ts), err)
				}
			}
		})
	}
}

// benchResult is what a worker posts for a trivial handler.
func benchResult() *model.TaskResult {
	return &model.TaskResult{TaskId: "task-1", WorkflowInstanceId: "wf-1", Status: model.CompletedTask, WorkerId: "bench",
		OutputData: map[string]interface{}{"ok": true}}
}

// BenchmarkHotPathResultEncode encodes one task result as UpdateTask does.
func BenchmarkHotPathResultEncode(b *testing.B) {
	r := benchResult()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := resultBody(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotPathPollRequest is one batch poll through the client: the
// request built, sent over the in-memory transport, the answer (chunked,
// as Conductor sends it) read and decoded.
func BenchmarkHotPathPollRequest(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			tc := plainClient(b, http.StatusOK, "application/json", conductorBatch(n), true).Tasks()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				ts, err := tc.BatchPoll(ctx, "bench", PollOptions{Count: n, WorkerID: "bench"})
				if err != nil || len(ts) != n {
					b.Fatal(len(ts), err)
				}
			}
		})
	}
}

// BenchmarkHotPathUpdateRequest is one result posted through the client:
// validated, encoded, sent, the answer read.
func BenchmarkHotPathUpdateRequest(b *testing.B) {
	tc := plainClient(b, http.StatusOK, "text/plain", []byte("task-1"), false).Tasks()
	ctx := context.Background()
	r := benchResult()
	b.ReportAllocs()
	for b.Loop() {
		if err := tc.UpdateTask(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// roundTripFunc lets a function serve as a transport, so that a benchmark can
// set the answer's length (unknown, as Conductor's chunked poll answers).
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
