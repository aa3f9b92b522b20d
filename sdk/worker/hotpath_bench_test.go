package worker_test

// Hot-path micro-benchmarks through the public API only: a TaskRunner built
// with NewTaskRunnerWithApiClient over a client whose transport is an
// in-memory Conductor (no sockets), so a regression in the runner's own
// cost per task (poll request and decode, executor, result, reporter,
// metrics, logging fields) shows in make bench-micro without a server.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

// memConductor answers batch polls from a queue of n tasks and counts
// updates, as a RoundTripper. Every other request gets 404, which the runner
// treats as "this server lacks that endpoint".
type memConductor struct {
	mu      sync.Mutex
	left    int // tasks not yet handed out
	next    int
	updates atomic.Int64
	want    int64
	done    chan struct{}
	// task is one task's JSON as Conductor sends it, with %d for its id.
	task string
}

func newMemConductor(n int) *memConductor {
	return &memConductor{left: n, want: int64(n), done: make(chan struct{}), task: conductorTaskJSON}
}

// conductorTaskJSON is a SIMPLE task as Conductor 3.32 answers a poll: every
// field it sends, with a small input.
const conductorTaskJSON = `{"taskType":"bench","status":"IN_PROGRESS","inputData":{"orderId":%d,"items":["a","b"],"customer":{"id":"c-1","tier":"gold"}},` +
	`"referenceTaskName":"only","retryCount":0,"seq":1,"pollCount":1,"taskDefName":"bench","scheduledTime":1765000000000,"startTime":1765000000010,` +
	`"endTime":0,"updateTime":1765000000010,"startDelayInSeconds":0,"retried":false,"executed":false,"callbackFromWorker":true,"responseTimeoutSeconds":600,` +
	`"workflowInstanceId":"wf-%d","workflowType":"wf_bench","taskId":"task-%d","callbackAfterSeconds":0,"workerId":"bench","outputData":{},` +
	`"workflowTask":{"name":"bench","taskReferenceName":"only","inputParameters":{},"type":"SIMPLE","startDelay":0,"optional":false,"asyncComplete":false,"permissive":false},` +
	`"rateLimitPerFrequency":0,"rateLimitFrequencyInSeconds":1,"workflowPriority":0,"iteration":0,"subworkflowChanged":false,"firstStartTime":0,` +
	`"taskDefinition":{"name":"bench","retryCount":0,"timeoutSeconds":0,"responseTimeoutSeconds":600,"timeoutPolicy":"TIME_OUT_WF","retryLogic":"FIXED","ownerEmail":"bench@example.com"},` +
	`"queueWaitTime":10,"loopOverTask":false,"taskStatus":"IN_PROGRESS"}`

func (m *memConductor) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && strings.Contains(p, "/tasks/poll/batch/"):
		count, _ := strconv.Atoi(r.URL.Query().Get("count"))
		m.mu.Lock()
		n := min(max(count, 1), m.left)
		m.left -= n
		first := m.next
		m.next += n
		m.mu.Unlock()
		if n == 0 {
			// Nothing queued: wait as a server holding the poll would
			// (briefly: the benchmark ends when the last update lands).
			t := time.NewTimer(time.Millisecond)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
			return answer(r, http.StatusOK, "application/json", []byte("[]")), nil
		}
		var b bytes.Buffer
		b.Grow(n * (len(m.task) + 16))
		b.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			id := first + i
			fmt.Fprintf(&b, m.task, id, id, id)
		}
		b.WriteByte(']')
		return answer(r, http.StatusOK, "application/json", b.Bytes()), nil
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/tasks"):
		if m.updates.Add(1) == m.want {
			close(m.done)
		}
		return answer(r, http.StatusOK, "text/plain", []byte("task")), nil
	}
	return answer(r, http.StatusNotFound, "application/json", []byte(`{"status":404,"message":"not here"}`)), nil
}

func answer(r *http.Request, status int, ctype string, body []byte) *http.Response {
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {ctype}}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}

func hotPathLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.WarnLevel)
	return l
}

// BenchmarkHotPathTask runs b.N tasks through a TaskRunner (one worker,
// trivial handler) and reports the runner's cost per task: poll request
// and decode, dispatch to a slot, the handler call, the result, and the
// update request. Metrics are off (NopRecorder): linking sdk/metrics here
// would change the worker's default recorder for this package's tests; the
// Prometheus recorder's cost per task has its own benchmarks in
// sdk/metrics (BenchmarkTaskRoundTripParallel and the *Done ones).
func BenchmarkHotPathTask(b *testing.B) {
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			m := newMemConductor(b.N)
			log := hotPathLogger()
			c, err := client.New(nil, settings.NewHttpSettings("http://conductor.invalid/api"),
				client.WithHTTPClient(&http.Client{Transport: m}), client.WithLogger(log))
			if err != nil {
				b.Fatal(err)
			}
			r := worker.NewTaskRunnerWithApiClient(c, worker.WithLogger(log), worker.WithWorkerID("bench"),
				worker.WithMetrics(worker.NopRecorder{}))
			out := map[string]interface{}{"ok": true}
			fn := func(t *model.Task) (interface{}, error) { return out, nil }
			b.ReportAllocs()
			b.ResetTimer()
			if err := r.StartWorker("bench", fn, batch, 100*time.Millisecond); err != nil {
				b.Fatal(err)
			}
			<-m.done
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := r.Shutdown(ctx); err != nil {
				b.Fatal(err)
			}
			r.WaitWorkers()
		})
	}
}
