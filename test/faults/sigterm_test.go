package faults

import (
	"bufio"
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// Scenario 8: a real process (testdata/sigtermworker, built here with -race)
// runs a TaskRunner with 500 slots against the dev server in this process.
// When all 500 handlers are running it gets SIGTERM. Every one of the 500
// results must reach the server within the grace period, no further task may
// be taken, and the process must exit 0, which it does only when Shutdown
// drained everything and goleak.Find found no goroutine left.
func TestSIGTERMWithTasksInFlight(t *testing.T) {
	skipShort(t)
	t.Parallel() // own dev server and runner; the suite's wall time is then about its longest scenario
	const (
		inFlight = 500
		queued   = 100 // beyond the slots: must still be waiting afterwards
		grace    = 10 * time.Second
		work     = time.Second // each handler's remaining work after the signal
	)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the child process:", err)
	}
	bin := filepath.Join(t.TempDir(), "sigtermworker")
	build := exec.Command(goBin, "build", "-race", "-o", bin, "./testdata/sigtermworker")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the child: %v\n%s", err, out)
	}

	e := newEnv(t, "sigterm")
	e.define("sigterm_task", nil)
	ids := e.start("sigterm_task", 0, inFlight+queued)

	cmd := exec.Command(bin, "-url", e.srv.URL(), "-task", "sigterm_task", "-batch", strconv.Itoa(inFlight),
		"-work", work.String(), "-grace", grace.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	go func() {
		readers.Wait() // Wait closes stdout: read it all first
		exited <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	ready := false
	deadline := time.After(2 * time.Minute)
	for !ready {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child ended before READY: %v\n%s", <-exited, stderr.String())
			}
			ready = l == "READY"
		case <-deadline:
			t.Fatalf("child not READY after 2 minutes (%d tasks handed out)\n%s", e.srv.Stats().TasksHandedOut, stderr.String())
		}
	}
	if got := len(e.srv.TasksByStatus(model.TaskInProgress)); got != inFlight {
		t.Fatalf("%d tasks in progress on the server at SIGTERM, want %d", got, inFlight)
	}
	handedBefore := e.srv.Stats().TasksHandedOut
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var drained string
	var exitErr error
	waitExit := time.After(grace + 30*time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			if ms, found := strings.CutPrefix(l, "DRAINED "); found {
				drained = ms
			}
		case exitErr = <-exited:
			done = true
		case <-waitExit:
			t.Fatalf("child still running %s after SIGTERM\n%s", grace+30*time.Second, stderr.String())
		}
	}
	exitedAfter := time.Since(signalled)
	code := 0
	var ee *exec.ExitError
	if errors.As(exitErr, &ee) {
		code = ee.ExitCode()
	} else if exitErr != nil {
		t.Fatalf("child: %v", exitErr)
	}

	completed, updates := 0, 0
	var lastEnd int64
	for _, id := range ids {
		wf, _ := e.srv.Workflow(id)
		tk := wf.Tasks[0]
		switch tk.Status {
		case model.TaskCompleted:
			completed++
			updates += len(e.srv.Updates(tk.TaskId))
			if tk.OutputData["by"] != "sigtermworker" || tk.OutputData["k"] != tk.InputData["k"] {
				t.Errorf("task %s: output %v for input k=%v", tk.TaskId, tk.OutputData, tk.InputData["k"])
			}
			lastEnd = max(lastEnd, tk.EndTime)
		case model.TaskScheduled:
			if tk.PollCount != 0 {
				t.Errorf("task %s was polled %d times but is SCHEDULED", tk.TaskId, tk.PollCount)
			}
		default:
			t.Errorf("task %s: %s %s", tk.TaskId, tk.Status, tk.ReasonForIncompletion)
		}
	}
	handedAfter := e.srv.Stats().TasksHandedOut - handedBefore
	lastResult := time.UnixMilli(lastEnd).Sub(signalled)
	t.Logf("scenario 8 (SIGTERM with %d tasks in flight, grace %s, %s of work left per handler): exit code %d after %s (child drained in %s ms); %d completed with %d updates, last result %s after the signal, %d tasks handed out after the signal, %d still queued; lost %d",
		inFlight, grace, work, code, exitedAfter.Round(time.Millisecond), drained, completed, updates,
		lastResult.Round(time.Millisecond), handedAfter, len(e.srv.TasksByStatus(model.TaskScheduled)), inFlight-completed)
	// "Within the grace period" is the child's own check: it exits 2 when
	// Shutdown(grace) returns before every result was delivered.
	if code != 0 {
		t.Errorf("child exited %d, want 0 (2: not drained within %s, 3: goroutines leaked)\n%s", code, grace, stderr.String())
	}
	if completed != inFlight || updates != inFlight {
		t.Errorf("want %d results posted once each: %d completed, %d updates", inFlight, completed, updates)
	}
	if handedAfter != 0 {
		t.Errorf("%d tasks were handed out after SIGTERM", handedAfter)
	}
	for _, s := range []string{payloadMarker, keySecret} {
		if strings.Contains(stderr.String(), s) {
			t.Errorf("the child's log holds %q", s)
		}
	}
}
