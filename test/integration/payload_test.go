package integration

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

// Large payloads through the server's external payload storage (issue 25):
// on real Conductor configured with the PostgreSQL store
// (CONDUCTOR_PAYLOAD_STORE=postgres in test/conductor/run.sh), and on the dev
// server, which the suite starts with its in-memory store. The server's
// default thresholds apply: task payloads over 3 MB are externalized, over
// 10 MB refused.

// needPayloadStore skips unless the server has an external payload storage
// clients can read.
func needPayloadStore(t *testing.T) {
	t.Helper()
	if env.external && os.Getenv("CONDUCTOR_SERVER_PAYLOAD_STORE") != "postgres" {
		t.Skip("the server has no external payload storage a client can read (run it with CONDUCTOR_PAYLOAD_STORE=postgres in test/conductor/run.sh)")
	}
}

// randomText returns n random hexadecimal characters.
func randomText(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)[:n]
}

func checksum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestPayloadFiveMegabytesThroughTwoTasks starts a workflow with a 5 MB
// input, which the server stores externally as the first task's input (over
// the 3 MB threshold); the first handler must see it intact and returns a
// new 5 MB output, which the server stores and hands to the second task as
// its input; the second handler must see that intact. Checksums computed in
// the handlers travel through the workflow's output.
func TestPayloadFiveMegabytesThroughTwoTasks(t *testing.T) {
	needPayloadStore(t)
	t.Parallel()
	first, second := uniq("pl_first"), uniq("pl_second")
	registerTask(t, model.TaskDef{Name: first, RetryCount: 0, ResponseTimeoutSeconds: 120, TimeoutSeconds: 600})
	registerTask(t, model.TaskDef{Name: second, RetryCount: 0, ResponseTimeoutSeconds: 120, TimeoutSeconds: 600})
	wfName := first + "_wf"
	registerWorkflow(t, model.WorkflowDef{
		Name: wfName,
		Tasks: []model.WorkflowTask{
			{Name: first, TaskReferenceName: "first", InputParameters: map[string]interface{}{"blob": "${workflow.input.blob}"}},
			{Name: second, TaskReferenceName: "second", InputParameters: map[string]interface{}{"big": "${first.output.big}"}},
		},
		OutputParameters: map[string]interface{}{
			"inSum": "${first.output.inSum}", "bigSum": "${first.output.bigSum}", "gotSum": "${second.output.gotSum}",
		},
	})

	const size = 5_000_000
	blob := randomText(t, size)
	big := randomText(t, size)
	var (
		mu               sync.Mutex
		runs             = map[string]int{}
		firstExt, sndExt bool
		firstLen, sndLen int
		firstSum, sndSum string
		firstOut         = checksum(big)
	)
	r := newRunner(t)
	err := r.StartWorker(first, func(tk *model.Task) (interface{}, error) {
		s, _ := tk.InputData["blob"].(string)
		mu.Lock()
		runs[first]++
		firstExt = tk.ExternalInputPayloadStoragePath != ""
		firstLen, firstSum = len(s), checksum(s)
		mu.Unlock()
		return map[string]interface{}{"inSum": checksum(s), "bigSum": firstOut, "big": big}, nil
	}, 1, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	err = r.StartWorker(second, func(tk *model.Task) (interface{}, error) {
		s, _ := tk.InputData["big"].(string)
		mu.Lock()
		runs[second]++
		sndExt = tk.ExternalInputPayloadStoragePath != ""
		sndLen, sndSum = len(s), checksum(s)
		mu.Unlock()
		return map[string]interface{}{"gotSum": checksum(s)}, nil
	}, 1, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}

	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"blob": blob}})
	wf := waitWorkflow(t, id, model.WorkflowCompleted)

	mu.Lock()
	defer mu.Unlock()
	if runs[first] != 1 || runs[second] != 1 {
		t.Errorf("handlers ran %v, want each once", runs)
	}
	if !firstExt || !sndExt {
		t.Errorf("external input: first task %v, second %v; want both tasks handed out with externalInputPayloadStoragePath (a 5 MB input is over the 3 MB threshold)", firstExt, sndExt)
	}
	if firstLen != size || firstSum != checksum(blob) {
		t.Errorf("first handler saw an input blob of %d characters (checksum %.12s), want %d (%.12s)", firstLen, firstSum, size, checksum(blob))
	}
	if sndLen != size || sndSum != firstOut {
		t.Errorf("second handler saw %d characters (checksum %.12s) of the first task's 5 MB output, want %d (%.12s)", sndLen, sndSum, size, firstOut)
	}
	for k, want := range map[string]string{"inSum": checksum(blob), "bigSum": firstOut, "gotSum": firstOut} {
		if got, _ := wf.Output[k].(string); got != want {
			t.Errorf("workflow output %s = %.12q, want %.12s (output %v)", k, got, want, keys(wf.Output))
		}
	}
}

func keys(m map[string]interface{}) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestPayloadOutputOverLimitFailsTaskAtOnce: a handler returns 20 MB, twice
// the server's hard limit. The worker fails the task at once, for good
// (FAILED_WITH_TERMINAL_ERROR), with the size and the limit in the reason;
// the handler runs once and the workflow fails rather than hanging.
func TestPayloadOutputOverLimitFailsTaskAtOnce(t *testing.T) {
	t.Parallel()
	task := uniq("pl_toobig")
	wfName := oneTaskWorkflow(t, model.TaskDef{Name: task, RetryCount: 2, RetryDelaySeconds: 0, ResponseTimeoutSeconds: 120})
	var (
		mu   sync.Mutex
		runs int
	)
	huge := strings.Repeat("x", 20_000_000)
	r := newRunner(t)
	if err := r.StartWorker(task, func(tk *model.Task) (interface{}, error) {
		mu.Lock()
		runs++
		mu.Unlock()
		return map[string]interface{}{"huge": huge}, nil
	}, 1, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	id := startWorkflow(t, model.StartWorkflowRequest{Name: wfName, Input: map[string]interface{}{"n": 1}})
	wf := waitWorkflow(t, id, model.WorkflowFailed)
	tasks := tasksByRef(wf, "only")
	if len(tasks) != 1 {
		t.Fatalf("workflow has %d attempts of the task, want 1 (a terminal failure is not retried): %s", len(tasks), describeWorkflow(wf))
	}
	tk := tasks[0]
	if tk.Status != model.TaskFailedWithTerminalError {
		t.Errorf("task status %s, want FAILED_WITH_TERMINAL_ERROR", tk.Status)
	}
	limit := client.DefaultPayloadThresholds().MaxTaskOutput
	size := len(`{"huge":""}`) + len(huge)
	for _, want := range []string{fmt.Sprintf("%d bytes", size), fmt.Sprintf("limit of %d bytes", limit)} {
		if !strings.Contains(tk.ReasonForIncompletion, want) {
			t.Errorf("reason %q does not say %q", tk.ReasonForIncompletion, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if runs != 1 {
		t.Errorf("handler ran %d times, want 1", runs)
	}
}

// TestPayloadStartInputOverLimitRefused: a workflow input over the server's
// hard limit is refused by the client before anything is sent.
func TestPayloadStartInputOverLimitRefused(t *testing.T) {
	t.Parallel()
	_, err := executor.NewWorkflowExecutor(env.api).StartWorkflowContext(testCtx(t, 30*time.Second), &model.StartWorkflowRequest{
		Name: uniq("pl_never_registered"), Input: map[string]interface{}{"huge": strings.Repeat("y", 11<<20)},
	})
	var tl *client.PayloadTooLargeError
	if !errors.As(err, &tl) || tl.Type != "WORKFLOW_INPUT" {
		t.Fatalf("Start with an 11 MB input: %v, want a *client.PayloadTooLargeError for WORKFLOW_INPUT", err)
	}
	if !strings.Contains(err.Error(), "limit of 10485760 bytes") {
		t.Errorf("error %q does not name the limit", err)
	}
}
