package main

// Restarting a real Conductor server in the middle of a soak.
//
// test/conductor/run.sh starts the server and owns it; the soak driver only
// learns its process id (CONDUCTOR_SERVER_PID). To restart it the driver
// reads the server's command line and working folder from /proc, kills it
// with SIGKILL (a crash, not a clean stop) and starts the same command again
// in the same folder, so the server comes back on the same port with the
// same store: 3.32's SQLite database lives in that folder, and 3.21's Redis
// (run.sh's own redis-server) keeps running. From the first restart on, the
// server is the driver's child; the driver stops it at the end (SIGTERM,
// then SIGKILL), and as it stays in the driver's process group, run.sh's
// TERM to the command reaches it too. run.sh's own clean-up then finds its
// original server gone, which it tolerates.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type jvmServer struct {
	pid    int
	args   []string // argv, argv[0] the java binary
	dir    string   // working folder
	health string   // …/health
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	starts int
	log    *os.File
}

// adoptJVM reads what it takes to restart the server with process id pid,
// whose API is at base (…/api).
func adoptJVM(pid int, base string) (*jvmServer, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, fmt.Errorf("server pid %d: %w", pid, err)
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if len(args) < 2 || !strings.HasSuffix(filepath.Base(args[0]), "java") {
		return nil, fmt.Errorf("server pid %d is not a java process (command line %q)", pid, args)
	}
	dir, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return nil, fmt.Errorf("server pid %d: working folder: %w", pid, err)
	}
	return &jvmServer{pid: pid, args: args, dir: dir, health: strings.TrimSuffix(strings.TrimSuffix(base, "/"), "/api") + "/health"}, nil
}

// gone reports whether the process has exited (or is a zombie).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// kill crashes the server (SIGKILL) and waits until it is gone.
func (j *jvmServer) kill() error {
	if err := syscall.Kill(j.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill server pid %d: %w", j.pid, err)
	}
	if j.cmd != nil {
		<-j.exited
		j.cmd = nil
	}
	for i := 0; !processGone(j.pid); i++ {
		if i > 200 {
			return fmt.Errorf("server pid %d still there 20 s after SIGKILL", j.pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if j.log != nil {
		_ = j.log.Close()
		j.log = nil
	}
	return nil
}

// start starts the server again with the same command line and folder.
func (j *jvmServer) start() error {
	j.starts++
	lf, err := os.Create(filepath.Join(j.dir, fmt.Sprintf("server-restart-%d.log", j.starts)))
	if err != nil {
		return err
	}
	cmd := exec.Command(j.args[0], j.args[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = j.dir, lf, lf
	// If the driver dies, the server goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return fmt.Errorf("restart server: %w", err)
	}
	j.cmd, j.log, j.pid = cmd, lf, cmd.Process.Pid
	j.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) {
		_ = c.Wait()
		close(done)
	}(cmd, j.exited)
	return nil
}

// waitHealthy waits until /health answers 200, the process dies or the
// timeout passes.
func (j *jvmServer) waitHealthy(ctx context.Context, timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, j.health, nil)
		if res, err := hc.Do(req); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if j.cmd != nil {
			select {
			case <-j.exited:
				return fmt.Errorf("restarted server exited during boot; log in %s", j.log.Name())
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restarted server not healthy after %v", timeout)
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
}

// stop ends a server the driver started (the original one is run.sh's).
func (j *jvmServer) stop() {
	if j.cmd == nil {
		return
	}
	_ = j.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-j.exited:
	case <-time.After(30 * time.Second):
		_ = j.cmd.Process.Kill()
		<-j.exited
	}
	j.cmd = nil
	if j.log != nil {
		_ = j.log.Close()
	}
}

// procSample is a process's resident memory and CPU time, from /proc.
type procSample struct {
	RSSKB    int64
	CPUNanos int64
}

func readProcSample(pid int) (procSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procSample{}, fmt.Errorf("pid %d: odd /proc stat", pid)
	}
	// Fields after the command: state is field 3; utime 14, stime 15, rss 24.
	f := strings.Fields(s[i+1:])
	if len(f) < 22 {
		return procSample{}, fmt.Errorf("pid %d: short /proc stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	// USER_HZ is 100 on every Linux this runs on.
	return procSample{RSSKB: rss * int64(os.Getpagesize()) / 1024, CPUNanos: (ut + st) * int64(10*time.Millisecond)}, nil
}
