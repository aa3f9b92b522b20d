package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// memServer is a Conductor stand-in behind an in-process transport (no
// sockets, so it also runs inside synctest bubbles): handle decides each
// answer; every result posted is recorded and announced on results.
type memServer struct {
	mu      sync.Mutex
	handle  func(r *http.Request, body []byte) (int, string)
	posted  []model.TaskResult
	results chan model.TaskResult
}

func newMemServer(handle func(r *http.Request, body []byte) (int, string)) *memServer {
	return &memServer{handle: handle, results: make(chan model.TaskResult, 1000)}
}

func (m *memServer) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
	}
	status, answer := m.handle(r, body)
	if r.Method == http.MethodPost && (r.URL.Path == "/api/tasks" || r.URL.Path == "/api/tasks/update-v2") && status < 300 {
		var res model.TaskResult
		if err := json.Unmarshal(body, &res); err == nil && !res.ExtendLease {
			m.mu.Lock()
			m.posted = append(m.posted, res)
			m.mu.Unlock()
			m.results <- res
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if strings.HasPrefix(answer, "<") {
		h.Set("Content-Type", "text/html")
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader([]byte(answer))), Request: r, ContentLength: -1}, nil
}

func (m *memServer) client(t *testing.T, auth *settings.AuthenticationSettings) *client.APIClient {
	t.Helper()
	c, err := client.New(auth, settings.NewHttpSettings("http://conductor.test/api"), client.WithHTTPClient(&http.Client{Transport: m}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOneUndecodableTaskDoesNotLoseTheBatch is point 4 of issue 24: a poll
// answer of ten tasks, one with a 400-digit integer in its input (Jackson
// keeps it as a BigInteger; Go's float64 cannot hold it). Before, the whole
// answer failed to decode and all ten tasks sat IN_PROGRESS on the server
// until their response timeout; now nine run and the tenth is failed at
// once, terminally, with a reason that names the field.
func TestOneUndecodableTaskDoesNotLoseTheBatch(t *testing.T) {
	var polled sync.Once
	srv := newMemServer(func(r *http.Request, _ []byte) (int, string) {
		if strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/") {
			answer := "[]"
			polled.Do(func() {
				var tasks []string
				for i := 0; i < 10; i++ {
					input := fmt.Sprintf(`{"i":%d}`, i)
					if i == 4 {
						input = `{"i":4,"order":{"amount":` + strings.Repeat("9", 400) + `}}`
					}
					tasks = append(tasks, fmt.Sprintf(`{"taskId":"t%d","workflowInstanceId":"w%d","taskType":"greet","status":"IN_PROGRESS","inputData":%s}`, i, i, input))
				}
				answer = "[" + strings.Join(tasks, ",") + "]"
			})
			return 200, answer
		}
		return 200, ""
	})
	r := NewTaskRunnerWithApiClient(srv.client(t, nil), WithLogger(quietLogger()), WithMetrics(NopRecorder{}))
	var mu sync.Mutex
	ran := map[string]bool{}
	if err := r.StartWorker("greet", func(task *model.Task) (interface{}, error) {
		mu.Lock()
		ran[task.TaskId] = true
		mu.Unlock()
		return map[string]interface{}{"i": task.InputData["i"]}, nil
	}, 10, 10e6); err != nil {
		t.Fatal(err)
	}
	got := map[string]model.TaskResult{}
	for len(got) < 10 {
		res := <-srv.results
		got[res.TaskId] = res
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.WaitWorkers()
	for i := 0; i < 10; i++ {
		res := got[fmt.Sprintf("t%d", i)]
		if i == 4 {
			if res.Status != model.FailedWithTerminalErrorTask || !strings.Contains(res.ReasonForIncompletion, "inputData.order.amount") {
				t.Errorf("the undecodable task was reported %s with reason %q; want FAILED_WITH_TERMINAL_ERROR naming inputData.order.amount", res.Status, res.ReasonForIncompletion)
			}
			if ran["t4"] {
				t.Error("the handler ran the undecodable task")
			}
			continue
		}
		if res.Status != model.CompletedTask || !ran[res.TaskId] {
			t.Errorf("task t%d: status %s, ran %v; want COMPLETED by the handler", i, res.Status, ran[res.TaskId])
		}
	}
	if s := r.Workers()[0]; s.Failures != 1 {
		t.Errorf("Workers().Failures = %d, want 1", s.Failures)
	}
}
