package conductortest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
)

// The server-only benchmark runs the dev server in a child process (this
// test binary, started again with benchChildEnv set), so that its CPU time
// and allocations can be read apart from the load generator's, and so the
// load generator's garbage does not make the server collect more often.

const benchChildEnv = "CONDUCTORTEST_BENCH_CHILD"

// The child is chosen before TestMain runs, so it runs no tests and no
// leak check.
func init() {
	if os.Getenv(benchChildEnv) != "" {
		os.Exit(runBenchChild())
	}
}

// serverCounters is what the child reports about itself.
type serverCounters struct {
	CPUNanos          int64  `json:"cpuNanos"`
	Mallocs           uint64 `json:"mallocs"`
	Bytes             uint64 `json:"bytes"`
	NumGC             uint32 `json:"numGC"`
	WorkflowsComplete int64  `json:"workflowsComplete"`
	TasksHandedOut    int64  `json:"tasksHandedOut"`
	Updates           int64  `json:"updates"`
}

// runBenchChild serves a dev server until its standard input closes. The
// first line it prints is the base URL; /bench/counters (outside /api)
// answers with serverCounters.
//
// With CONDUCTORTEST_BENCH_PROFILE=prefix set, the child writes
// prefix.cpu and prefix.mem (pprof) covering its whole life.
func runBenchChild() int {
	if prefix := os.Getenv("CONDUCTORTEST_BENCH_PROFILE"); prefix != "" {
		if os.Getenv("CONDUCTORTEST_BENCH_MEMRATE") != "" {
			runtime.MemProfileRate = 4096
		}
		f, err := os.Create(prefix + ".cpu")
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() {
				pprof.StopCPUProfile()
				_ = f.Close()
				if mf, err := os.Create(prefix + ".mem"); err == nil {
					_ = pprof.Lookup("allocs").WriteTo(mf, 0)
					_ = mf.Close()
				}
			}()
		}
	}
	srv := conductortest.NewServer(conductortest.WithOwnerEmailOptional(), conductortest.WithLongPoll("early"))
	defer srv.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/bench/counters", func(w http.ResponseWriter, _ *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := srv.Stats()
		_ = json.NewEncoder(w).Encode(serverCounters{
			CPUNanos: processCPU().Nanoseconds(), Mallocs: ms.Mallocs, Bytes: ms.TotalAlloc, NumGC: ms.NumGC,
			WorkflowsComplete: st.WorkflowsComplete, TasksHandedOut: st.TasksHandedOut, Updates: st.Updates,
		})
	})
	mux.Handle("/", srv.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	hs := &http.Server{Handler: mux}
	go func() { _ = hs.Serve(ln) }()
	fmt.Printf("http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = hs.Close()
	return 0
}

type benchChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	base  string // http://host:port
	host  string
}

func startBenchChild(tb testing.TB) *benchChild {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), benchChildEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		tb.Fatalf("bench child: %v", err)
	}
	base := strings.TrimSpace(line)
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	c := &benchChild{cmd: cmd, stdin: stdin, base: base, host: u.Host}
	tb.Cleanup(func() {
		_ = c.stdin.Close()
		_ = c.cmd.Wait()
	})
	return c
}

func (c *benchChild) counters(tb testing.TB) serverCounters {
	tb.Helper()
	res, err := http.Get(c.base + "/bench/counters")
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var sc serverCounters
	if err := json.NewDecoder(res.Body).Decode(&sc); err != nil {
		tb.Fatal(err)
	}
	return sc
}

// rawConn is a minimal HTTP/1.1 keep-alive client over one connection: it
// writes requests by hand and reads answers with a Content-Length (all the
// dev server sends). The load generator stays cheap, so most of the
// machine is left to the server.
type rawConn struct {
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	host string
	body []byte
}

func dialRaw(host string) (*rawConn, error) {
	c, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 4<<10), host: host}, nil
}

func (rc *rawConn) do(method, path string, body []byte) (int, []byte, error) {
	w := rc.w
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(path)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(rc.host)
	w.WriteString("\r\nAccept: application/json\r\n")
	if body != nil {
		w.WriteString("Content-Type: application/json\r\nContent-Length: ")
		w.WriteString(strconv.Itoa(len(body)))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	w.Write(body)
	if err := w.Flush(); err != nil {
		return 0, nil, err
	}
	status, n := 0, -1
	for first := true; ; first = false {
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			if len(line) < 12 {
				return 0, nil, fmt.Errorf("bad status line %q", line)
			}
			if status, err = strconv.Atoi(string(line[9:12])); err != nil {
				return 0, nil, fmt.Errorf("bad status line %q", line)
			}
			continue
		}
		if len(line) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
			if n, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return 0, nil, fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	if n < 0 {
		return 0, nil, errors.New("answer without Content-Length")
	}
	if cap(rc.body) < n {
		rc.body = make([]byte, n)
	}
	rc.body = rc.body[:n]
	if _, err := io.ReadFull(rc.r, rc.body); err != nil {
		return 0, nil, err
	}
	return status, rc.body, nil
}

func (rc *rawConn) close() { _ = rc.c.Close() }

// taskIDs appends the taskId and workflowInstanceId of every task in a
// batch-poll answer, found by scanning rather than decoding: the load
// generator has no use for the rest.
func taskIDs(body []byte, ids [][2]string) [][2]string {
	field := func(b []byte, name string) (string, []byte) {
		key := `"` + name + `":"`
		i := bytes.Index(b, []byte(key))
		if i < 0 {
			return "", nil
		}
		b = b[i+len(key):]
		j := bytes.IndexByte(b, '"')
		return string(b[:j]), b[j:]
	}
	for {
		// Every task object in the answer carries both ids, the workflow
		// id first (the server's field order; a wrong pairing would make
		// the update fail and the benchmark stop).
		wid, rest := field(body, "workflowInstanceId")
		if rest == nil {
			return ids
		}
		tid, rest2 := field(rest, "taskId")
		if rest2 == nil {
			return ids
		}
		ids = append(ids, [2]string{tid, wid})
		body = rest2
	}
}

// BenchmarkServerThroughput measures the dev server alone: poll + update
// round trips over loopback from a lean load generator in another process.
// Each task is a one-task workflow, so every update also completes a
// workflow. Reported: tasks/s, the server's CPU and allocations per task,
// and the load generator's CPU per task (both processes share this
// machine's cores).
func BenchmarkServerThroughput(b *testing.B) {
	for _, batch := range []int{10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchServerThroughput(b, batch) })
	}
}

func benchServerThroughput(b *testing.B, batch int) {
	child := startBenchChild(b)
	def := `{"name":"sbench","version":1,"schemaVersion":2,"tasks":[{"name":"sbench_task","taskReferenceName":"t","type":"SIMPLE"}]}`
	setup, err := dialRaw(child.host)
	if err != nil {
		b.Fatal(err)
	}
	defer setup.close()
	if st, body, err := setup.do("POST", "/api/metadata/workflow", []byte(def)); err != nil || st >= 300 {
		b.Fatalf("register workflow: %d %s %v", st, body, err)
	}
	// The workload: b.N workflows, started from several connections.
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := dialRaw(child.host)
			if err != nil {
				errs <- err
				return
			}
			defer rc.close()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				st, body, err := rc.do("POST", "/api/workflow/sbench", []byte(`{"i":`+strconv.FormatInt(i, 10)+`}`))
				if err != nil || st != 200 {
					errs <- fmt.Errorf("start: %d %s %v", st, body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}

	// Enough connections to keep both cores busy while each waits for its
	// answers; each works like an SDK poller: batch poll, then one update
	// per task.
	conns := 8
	total := int64(b.N)
	var done atomic.Int64
	var failed atomic.Bool
	fail := func(err error) {
		failed.Store(true)
		select {
		case errs <- err:
		default:
		}
	}
	pollPath := fmt.Sprintf("/api/tasks/poll/batch/sbench_task?count=%d&timeout=100&workerid=bench", batch)
	before := child.counters(b)
	cpu0 := processCPU()
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < conns; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := dialRaw(child.host)
			if err != nil {
				fail(err)
				return
			}
			defer rc.close()
			var ids [][2]string
			var body []byte
			for done.Load() < total && !failed.Load() {
				st, answer, err := rc.do("GET", pollPath, nil)
				if err != nil || st != 200 {
					fail(fmt.Errorf("poll: %d %s %v", st, answer, err))
					return
				}
				ids = taskIDs(answer, ids[:0])
				for _, id := range ids {
					body = append(body[:0], `{"workflowInstanceId":"`...)
					body = append(body, id[1]...)
					body = append(body, `","taskId":"`...)
					body = append(body, id[0]...)
					body = append(body, `","status":"COMPLETED","workerId":"bench","outputData":{"ok":true}}`...)
					st, answer, err := rc.do("POST", "/api/tasks", body)
					if err != nil || st != 200 {
						fail(fmt.Errorf("update: %d %s %v", st, answer, err))
						return
					}
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	genCPU := processCPU() - cpu0
	after := child.counters(b)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	if got := after.WorkflowsComplete - before.WorkflowsComplete; got != total {
		b.Fatalf("completed %d workflows, want %d", got, total)
	}
	if got := after.TasksHandedOut - before.TasksHandedOut; got != total {
		b.Fatalf("handed out %d tasks, want %d (each exactly once)", got, total)
	}
	n := float64(total)
	b.ReportMetric(n/elapsed.Seconds(), "tasks/s")
	b.ReportMetric(float64(after.CPUNanos-before.CPUNanos)/1e3/n, "server-cpu-µs/task")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "server-allocs/task")
	b.ReportMetric(float64(after.Bytes-before.Bytes)/n, "server-B/task")
	b.ReportMetric(float64(genCPU.Microseconds())/n, "loadgen-cpu-µs/task")
}

// BenchmarkIdleLongPoll measures what waiting costs the server: 100
// pollers on 100 connections keep a 1 s long poll open on a task type that
// never gets a task. Each iteration is one such second. Reported: the
// server's CPU as a share of one core while they wait, and per poll.
func BenchmarkIdleLongPoll(b *testing.B) {
	child := startBenchChild(b)
	const pollers = 100
	conns := make([]*rawConn, pollers)
	for i := range conns {
		rc, err := dialRaw(child.host)
		if err != nil {
			b.Fatal(err)
		}
		defer rc.close()
		conns[i] = rc
	}
	before := child.counters(b)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		errs := make(chan error, pollers)
		for _, rc := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, body, err := rc.do("GET", "/api/tasks/poll/batch/idle_task?count=10&timeout=1000&workerid=idle", nil)
				if err != nil || st != 200 || string(body) != "[]" {
					errs <- fmt.Errorf("idle poll: %d %q %v", st, body, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	after := child.counters(b)
	cpu := float64(after.CPUNanos - before.CPUNanos)
	b.ReportMetric(100*cpu/float64(elapsed.Nanoseconds()), "server-cpu-%")
	b.ReportMetric(cpu/1e3/float64(b.N*pollers), "server-cpu-µs/poll")
}
