package examples_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
)

// deployProgram turns the README's deployment block into a program. The
// block is a fragment of main (after settings.FromEnv), so the
// test supplies that start, and a Greet that says when it runs (a file
// holding the task id) and works until the test releases it by creating
// another file (or for ever), ignoring its context as a careless handler
// would. The one change to the block itself: the metrics settings
// listen on a free loopback port instead of :2112, which other tests may use.
const deployProgram = `package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/metrics"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

var _ = model.NewTaskResult

func Greet(t *model.Task) (interface{}, error) {
	started := os.Getenv("README_DEPLOY_STARTED")
	if err := os.WriteFile(started+".tmp", []byte(t.TaskId), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(started+".tmp", started); err != nil { // the test never reads half a file
		return nil, err
	}
	for {
		if _, err := os.Stat(os.Getenv("README_DEPLOY_RELEASE")); err == nil {
			return map[string]interface{}{"greeting": "Hello"}, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readmeDeployMetricsSettings() *settings.MetricsSettings {
	m := settings.NewDefaultMetricsSettings()
	m.Host = "127.0.0.1"
	m.Port, _ = strconv.Atoi(os.Getenv("README_DEPLOY_METRICS_PORT"))
	return m
}

func main() {
	auth, httpSettings, err := settings.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	_, _ = auth, httpSettings
`

// TestReadmeDeployRecipe runs the README's deployment block as a process
// against the dev server, the way Kubernetes would: /status says ready once
// the worker has polled, SIGTERM starts the drain while /status and /metrics
// stay up (503 from then on), the drain ends when the running task does and
// the process exits 0 with the task completed; a second SIGTERM during a
// drain that cannot end exits at once with status 1.
func TestReadmeDeployRecipe(t *testing.T) {
	goTool, root := readmeToolchain(t, "builds and runs the README's deployment program")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var block *readmeBlock
	for _, b := range readmeGoBlocks(t, "README.md", string(readme)) {
		if b.heading == "Deploying" {
			if block != nil {
				t.Fatalf("README.md:%d: a second Go block under Deploying", b.line)
			}
			block = &b
		}
	}
	if block == nil || !strings.Contains(block.code, "settings.NewDefaultMetricsSettings()") {
		t.Fatalf("README.md has no Go block under \"Deploying\" that serves settings.NewDefaultMetricsSettings()")
	}
	code := strings.Replace(block.code, "settings.NewDefaultMetricsSettings()", "readmeDeployMetricsSettings()", 1)
	src := deployProgram + fmt.Sprintf("//line README.md:%d\n", block.line+1) + code + "}\n"

	dir := t.TempDir()
	overlayFile := writeOverlay(t, dir, root, map[string]string{filepath.Join(root, "examples", "zz_readme_deploy", "main.go"): src})
	bin := filepath.Join(dir, "deploy")
	build := exec.Command(goTool, "build", "-overlay", overlayFile, "-o", bin, "./examples/zz_readme_deploy")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README's deployment block does not build: %v\n%s", err, out)
	}

	t.Run("SIGTERM drains with status and metrics up", func(t *testing.T) {
		p := startDeploy(t, bin)
		p.waitStatus(t, http.StatusOK, "ready once the worker has polled")
		p.startRunningTask(t)
		p.signal(t)
		p.waitStatus(t, http.StatusServiceUnavailable, "503 during the drain, and still served")
		if body, code := p.get(t, "/metrics"); code != http.StatusOK || !strings.Contains(body, `task_poll_counter{taskType="greet"}`) {
			t.Errorf("/metrics during the drain: %d\n%s", code, body)
		}
		p.release(t)
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("exit status %d after the drain, want 0\n%s", code, p.out.String())
		}
		if tk, ok := p.srv.Task(p.taskID); !ok || tk.Status != model.TaskCompleted {
			t.Errorf("the task that ran during the drain is %s, want COMPLETED", tk.Status)
		}
	})

	t.Run("a second SIGTERM exits at once", func(t *testing.T) {
		p := startDeploy(t, bin)
		p.waitStatus(t, http.StatusOK, "ready once the worker has polled")
		p.startRunningTask(t)
		p.signal(t)
		p.waitStatus(t, http.StatusServiceUnavailable, "503 during the drain")
		p.signal(t)
		// The drain lasts 25 s and the handler never returns, so only the
		// second signal can end the process within this wait.
		if code := p.wait(t, 20*time.Second); code != 1 {
			t.Fatalf("exit status %d after the second signal, want 1\n%s", code, p.out.String())
		}
		if !strings.Contains(p.out.String(), "second signal") {
			t.Errorf("the program did not say why it quit:\n%s", p.out.String())
		}
	})
}

// deployProc is one run of the deployment program against its own dev server.
type deployProc struct {
	srv     *conductortest.Server
	cmd     *exec.Cmd
	out     *lockedBuffer
	exited  chan error
	base    string // the metrics and status server
	release func(t *testing.T)
	started string // the file Greet writes the task id to when it runs
	taskID  string
}

func startDeploy(t *testing.T, bin string) *deployProc {
	t.Helper()
	srv := conductortest.NewServer()
	t.Cleanup(srv.Close)
	if err := srv.RegisterWorkflowDef(model.WorkflowDef{Name: "greeting", Version: 1,
		Tasks: []model.WorkflowTask{{Name: "greet", TaskReferenceName: "greet"}}}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	files := t.TempDir()
	releaseFile, startedFile := filepath.Join(files, "release"), filepath.Join(files, "started")
	p := &deployProc{srv: srv, out: &lockedBuffer{}, exited: make(chan error, 1),
		base: "http://127.0.0.1:" + strconv.Itoa(port), started: startedFile}
	p.release = func(t *testing.T) {
		if err := os.WriteFile(releaseFile, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(serverEnv(srv.URL(), "", ""), "README_DEPLOY_METRICS_PORT="+strconv.Itoa(port), "README_DEPLOY_RELEASE="+releaseFile, "README_DEPLOY_STARTED="+startedFile)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.release(t)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// get fetches path from the program's metrics server; code 0 means no answer.
func (p *deployProc) get(t *testing.T, path string) (string, int) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(p.base + path)
	if err != nil {
		return err.Error(), 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// waitStatus waits (20 s at most) until /status answers code.
func (p *deployProc) waitStatus(t *testing.T, code int, why string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		body, got := p.get(t, "/status")
		if got == code {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/status answered %d, want %d (%s): %s\n%s", got, code, why, body, p.out.String())
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("the program exited (%v) while /status should answer %d (%s)\n%s", err, code, why, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// startRunningTask starts a workflow and waits until its task runs in the
// program's handler (not only until the server has handed it out: a poll
// answer still on its way when SIGTERM cancels the poll never reaches a
// handler, and the server hands that task out again after its response
// timeout).
func (p *deployProc) startRunningTask(t *testing.T) {
	t.Helper()
	if _, err := p.srv.StartWorkflow(model.StartWorkflowRequest{Name: "greeting", Version: 1, Input: map[string]interface{}{}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if id, err := os.ReadFile(p.started); err == nil && len(id) > 0 {
			p.taskID = string(id)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task was not picked up within 20 s\n%s", p.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *deployProc) signal(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// wait returns the program's exit status, failing the test if it has not
// exited within d.
func (p *deployProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("program: %v", err)
		}
		return 0
	case <-time.After(d):
		t.Fatalf("the program had not exited %s later\n%s", d, p.out.String())
		return -1
	}
}

// lockedBuffer is the program's output, read by the test while it is written.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
