package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/workflow/executor"
)

// devServer is one fresh in-memory server per measured run: every contender
// meets the same empty state, and the memory of earlier runs is released.
type devServer struct {
	srv *conductortest.Server
	api *client.APIClient
	url string // what the contender talks to: the server, or the poll recorder in front of it

	front *http.Server
	polls *pollLog
	conns *connStats
}

// connStats counts, in front of the server, the connections the contender
// opens and the requests it keeps in flight: a worker's sockets and the
// goroutines net/http keeps per socket are most of its memory under load.
type connStats struct {
	mu                   sync.Mutex
	opened, open, peak   int64
	inFlight, peakFlight int64
}

func (c *connStats) track(_ net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch st {
	case http.StateNew:
		c.opened++
		c.open++
		c.peak = max(c.peak, c.open)
	case http.StateClosed, http.StateHijacked:
		c.open--
	}
}

func (c *connStats) serveWith(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.inFlight++
		c.peakFlight = max(c.peakFlight, c.inFlight)
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.inFlight--
			c.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// snapshot returns connections opened so far, the peak of open connections
// and the peak of requests in flight, and resets both peaks to the present.
func (c *connStats) snapshot() (opened, peakOpen, peakFlight int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	opened, peakOpen, peakFlight = c.opened, c.peak, c.peakFlight
	c.peak, c.peakFlight = c.open, c.inFlight
	return opened, peakOpen, peakFlight
}

// pollLog records when each poll request arrived, by task type.
type pollLog struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (l *pollLog) ServeWith(next http.Handler) http.Handler {
	const prefix = "/api/tasks/poll/batch/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tt, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
			now := time.Now()
			l.mu.Lock()
			l.at[tt] = append(l.at[tt], now)
			l.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// ratePerMinute estimates the polls per minute of each task type from the
// spacing of its polls, and sums them. Each poll that arrived in [from, to)
// gives one interval: the time since that type's previous poll (which may lie
// before from). Spacing is exact where a count in a window is not: a worker
// polling every 5 s shows 2 or 3 polls in 12 s depending on phase, but always
// a 5 s spacing.
func (l *pollLog) ratePerMinute(from, to time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := 0.0
	for _, ts := range l.at {
		var sum time.Duration
		n := 0
		for i := 1; i < len(ts); i++ {
			if !ts[i].Before(from) && ts[i].Before(to) {
				sum += ts[i].Sub(ts[i-1])
				n++
			}
		}
		if n > 0 {
			total += float64(n) / sum.Minutes()
		}
	}
	return total
}

// newRecordingDevServer is newDevServer with a poll recorder in front.
func newRecordingDevServer() (*devServer, error) {
	polls := &pollLog{at: map[string][]time.Time{}}
	d, err := newFrontedDevServer(polls.ServeWith, nil)
	if err != nil {
		return nil, err
	}
	d.polls = polls
	return d, nil
}

// newCountingDevServer is newDevServer with a connection and in-flight
// request counter in front.
func newCountingDevServer() (*devServer, error) {
	cs := &connStats{}
	d, err := newFrontedDevServer(cs.serveWith, cs.track)
	if err != nil {
		return nil, err
	}
	d.conns = cs
	return d, nil
}

// newFrontedDevServer serves the dev server's handler, wrapped, on a second
// listener in this process (no proxy hop), and points the contender there.
func newFrontedDevServer(wrap func(http.Handler) http.Handler, connState func(net.Conn, http.ConnState)) (*devServer, error) {
	d, err := newDevServer()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.close()
		return nil, err
	}
	d.front = &http.Server{Handler: wrap(d.srv.Handler()), ReadHeaderTimeout: 10 * time.Second, ConnState: connState}
	go func() { _ = d.front.Serve(ln) }()
	d.url = "http://" + ln.Addr().String() + "/api"
	return d, nil
}

func newDevServer() (*devServer, error) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, err := conductortest.Start(conductortest.WithLogger(log))
	if err != nil {
		return nil, err
	}
	cl, err := client.New(nil, settings.NewHttpSettings(srv.URL()), client.WithLogger(log))
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &devServer{srv: srv, api: cl, url: srv.URL()}, nil
}

func (d *devServer) close() {
	d.api.CloseIdleConnections()
	if d.front != nil {
		// The server's Close ends waiting long polls; then the front can close.
		d.srv.Close()
		_ = d.front.Close()
		return
	}
	d.srv.Close()
}

func wfName(taskType string) string { return "wf_" + taskType }

// define registers one task definition and one workflow of a single SIMPLE
// task per type. The task gets the workflow input t0 (for latency).
func (d *devServer) define(ctx context.Context, types []string) error {
	defs := make([]model.TaskDef, len(types))
	for i, t := range types {
		defs[i] = model.TaskDef{Name: t, OwnerEmail: "bench@example.com", RetryCount: 0,
			ResponseTimeoutSeconds: 600, TimeoutSeconds: 0}
	}
	if err := executor.NewWorkflowExecutor(d.api).RegisterTaskDefsContext(ctx, defs...); err != nil {
		return err
	}
	for _, t := range types {
		wf := &model.WorkflowDef{Name: wfName(t), Version: 1, OwnerEmail: "bench@example.com", SchemaVersion: 2,
			Tasks: []model.WorkflowTask{{Name: t, TaskReferenceName: "only", Type: "SIMPLE",
				InputParameters: map[string]interface{}{"t0": "${workflow.input.t0}"}}}}
		if err := executor.NewWorkflowExecutor(d.api).RegisterWorkflowContext(ctx, false, wf); err != nil {
			return err
		}
	}
	return nil
}

// startMany starts n workflows spread round-robin over the types, with a few
// concurrent requests.
func (d *devServer) startMany(ctx context.Context, types []string, n int) error {
	g, ctx := errgroup.WithContext(ctx)
	const workers = 8
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			for i := w; i < n; i += workers {
				_, err := executor.NewWorkflowExecutor(d.api).StartWorkflowContext(ctx, &model.StartWorkflowRequest{Name: wfName(types[i%len(types)]), Version: 1,
					Input: map[string]interface{}{"t0": "0"}})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func (d *devServer) startOne(ctx context.Context, taskType string) error {
	_, err := executor.NewWorkflowExecutor(d.api).StartWorkflowContext(ctx, &model.StartWorkflowRequest{Name: wfName(taskType), Version: 1,
		Input: map[string]interface{}{"t0": strconv.FormatInt(time.Now().UnixNano(), 10)}})
	return err
}

// child is a running contender process.
type child struct {
	cmd *exec.Cmd
	// external: not this binary (the Python SDK's worker program); its
	// CPU time is read from /proc over its process tree, and it has no
	// Go runtime statistics.
	external bool
	stdin    io.WriteCloser
	ready    chan struct{}
	lat      chan time.Duration
	pick     chan pickup
	stats    chan procStats
	done     chan struct{}
	stderr   *tailBuffer
}

type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.b = append(t.b, p...)
	if len(t.b) > 8192 {
		t.b = t.b[len(t.b)-8192:]
	}
	t.mu.Unlock()
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

type spawnOpts struct {
	exe       string // the binary to run ("": this one)
	label     string // the contender's name in profile file names ("": contender)
	contender string
	url       string
	types     []string
	batch     int
	interval  time.Duration
	sleep     time.Duration
	latency   bool
	pickup    bool
	peaks     bool
	// limitNoWait: the limit polls with timeout 0 and sleeps the poll
	// interval after an empty answer (real servers hold a partial batch
	// until the timeout ends; see limit.go).
	limitNoWait bool
	profDir     string // write cpu/mem profiles here ("" = none)
	profTag     string
	// py runs the official Python SDK's worker program (contPython).
	py *pythonEnv
}

func spawn(o spawnOpts) (*child, error) {
	exe := o.exe
	var err error
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	args := []string{"-contender", o.contender, "-url", o.url, "-types", strings.Join(o.types, ","),
		"-batch", strconv.Itoa(o.batch), "-interval", o.interval.String(), "-sleep", o.sleep.String()}
	if o.latency {
		args = append(args, "-latency")
	}
	if o.pickup {
		args = append(args, "-pickup")
	}
	if o.peaks {
		args = append(args, "-sample-peaks")
	}
	if o.limitNoWait {
		args = append(args, "-limit-nowait")
	}
	if o.profDir != "" {
		label := o.label
		if label == "" {
			label = o.contender
		}
		base := fmt.Sprintf("%s/%s-%s", o.profDir, o.profTag, label)
		args = append(args, "-cpuprofile", base+".cpu.pprof", "-memprofile", base+".allocs.pprof")
	}
	external := false
	if o.contender == contPython {
		if o.py == nil {
			return nil, fmt.Errorf("the python contender needs its virtual environment (-python)")
		}
		exe, args, external = o.py.python, o.py.args(o), true
	}
	cmd := exec.Command(exe, args...)
	if external {
		// Its own process group: the SDK's worker processes go with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	c := &child{cmd: cmd, external: external, ready: make(chan struct{}), lat: make(chan time.Duration, 1024),
		pick:  make(chan pickup, 4096),
		stats: make(chan procStats, 1), done: make(chan struct{}), stderr: &tailBuffer{}}
	cmd.Stderr = c.stderr
	c.stdin, err = cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// A Python interpreter importing the SDK on a loaded machine is slower
	// to start than a Go binary.
	readyWait := 20 * time.Second
	if external {
		readyWait = time.Minute
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "ready":
				close(c.ready)
			case strings.HasPrefix(line, "lat "):
				if ns, err := strconv.ParseInt(line[4:], 10, 64); err == nil {
					select {
					case c.lat <- time.Duration(ns):
					default:
					}
				}
			case strings.HasPrefix(line, "pick "):
				if p, ok := parsePickup(line[5:]); ok {
					select {
					case c.pick <- p:
					default:
					}
				}
			case strings.HasPrefix(line, "stats "):
				var st procStats
				if json.Unmarshal([]byte(line[6:]), &st) == nil {
					c.stats <- st
				}
			}
		}
	}()
	select {
	case <-c.ready:
		return c, nil
	case <-c.done:
		_ = cmd.Wait()
		return nil, fmt.Errorf("%s child exited before ready: %s", o.contender, c.stderr.String())
	case <-time.After(readyWait):
		c.kill()
		return nil, fmt.Errorf("%s child not ready after %v: %s", o.contender, readyWait, c.stderr.String())
	}
}

func (c *child) procStats() (procStats, error) {
	if c.external {
		select {
		case <-c.done:
			return procStats{}, fmt.Errorf("child exited: %s", c.stderr.String())
		default:
		}
		return procStats{CPUNanos: treeCPU(c.cmd.Process.Pid)}, nil
	}
	if _, err := io.WriteString(c.stdin, "stats\n"); err != nil {
		return procStats{}, err
	}
	select {
	case st := <-c.stats:
		return st, nil
	case <-c.done:
		return procStats{}, fmt.Errorf("child exited: %s", c.stderr.String())
	case <-time.After(10 * time.Second):
		return procStats{}, fmt.Errorf("child did not answer stats")
	}
}

// stop asks the child to exit and waits (killing it after a grace period);
// it returns the kernel's accounting of the whole process.
func (c *child) stop() *syscall.Rusage {
	_, _ = io.WriteString(c.stdin, "exit\n")
	_ = c.stdin.Close()
	exited := make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-exited
	}
	if c.external {
		// Whatever the program left of its process group.
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	if c.cmd.ProcessState == nil {
		return nil
	}
	ru, _ := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return ru
}

func (c *child) kill() {
	if c.external {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

func (c *child) send(cmd string) error {
	_, err := io.WriteString(c.stdin, cmd+"\n")
	return err
}

// pickup is one "pick" line of a child: which workflow's task reached the
// handler, and when (this machine's wall clock; the server's scheduledTime
// is in milliseconds on the same clock).
type pickup struct {
	workflowID  string
	at          time.Time
	scheduledMs int64
}

func parsePickup(s string) (pickup, bool) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return pickup{}, false
	}
	ns, err1 := strconv.ParseInt(f[1], 10, 64)
	ms, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return pickup{}, false
	}
	return pickup{workflowID: f[0], at: time.Unix(0, ns), scheduledMs: ms}, true
}
