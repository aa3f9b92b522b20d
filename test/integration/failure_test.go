package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/worker"
)

// rawWorkflow reads a workflow with its tasks keeping numbers as they are
// (json.Number): the SDK's own decoder cannot hold the numbers these tests
// put in.
func rawWorkflow(t *testing.T, id string) map[string]interface{} {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t, 30*time.Second), http.MethodGet, env.url+"/workflow/"+id+"?includeTasks=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := env.hc.Do(req)
	if err != nil {
		t.Fatalf("get workflow %s: %v", id, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("get workflow %s: %d %s", id, resp.StatusCode, buf.String())
	}
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	var wf map[string]interface{}
	if err := dec.Decode(&wf); err != nil {
		t.Fatalf("get workflow %s: %v", id, err)
	}
	return wf
}

// TestRunnerBatchWithAnUndecodableTask is issue 24's point 4 on a real
// server: ten workflows, one with a 400-digit integer in its input (the
// server keeps it as a BigInteger, Go's float64 cannot hold it), then a
// worker with batch 10. Nine tasks must run and complete; the tenth must be
// failed at once, terminally, with a reason that names the field, instead
// of all ten sitting IN_PROGRESS until their response timeout.
func TestRunnerBatchWithAnUndecodableTask(t *testing.T) {
	task := uniq("bignum")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 0, ResponseTimeoutSeconds: 300, TimeoutSeconds: 600})
	const n, bad = 10, 4
	ids := make([]string, n)
	for i := range n {
		var v interface{} = i
		if i == bad {
			v = json.Number(strings.Repeat("9", 400))
		}
		ids[i] = startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"n": v}})
	}
	r := newRunner(t)
	var mu sync.Mutex
	ran := map[string]bool{}
	if err := r.StartWorker(task, func(tk *model.Task) (interface{}, error) {
		mu.Lock()
		ran[tk.WorkflowInstanceId] = true
		mu.Unlock()
		return map[string]interface{}{"done": true}, nil
	}, n, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if i == bad {
			var wf map[string]interface{}
			waitFor(t, waitLong, "workflow "+id+" to fail", func() (bool, string) {
				wf = rawWorkflow(t, id)
				return wf["status"] == string(model.WorkflowFailed), fmt.Sprint(wf["status"])
			})
			tasks, _ := wf["tasks"].([]interface{})
			if len(tasks) != 1 {
				t.Fatalf("workflow %s has %d tasks, want 1", id, len(tasks))
			}
			tk := tasks[0].(map[string]interface{})
			reason := fmt.Sprint(tk["reasonForIncompletion"])
			if tk["status"] != "FAILED_WITH_TERMINAL_ERROR" || !strings.Contains(reason, "inputData.n") {
				t.Errorf("the undecodable task is %v with reason %q; want FAILED_WITH_TERMINAL_ERROR naming inputData.n", tk["status"], reason)
			}
			continue
		}
		waitWorkflow(t, id, model.WorkflowCompleted)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != n-1 || ran[ids[bad]] {
		t.Errorf("the handler ran %d tasks (the undecodable one: %v), want the %d others", len(ran), ran[ids[bad]], n-1)
	}
	var s worker.WorkerStatus = r.Workers()[0]
	if s.Failures != 1 {
		t.Errorf("Workers().Failures = %d, want 1", s.Failures)
	}
}
