package main

// The contender side: the bench binary re-executed with -contender runs one
// worker implementation against the server and answers the driver over
// stdin/stdout. Each contender lives in its own process so that its CPU time
// and memory can be read from the kernel (getrusage) without the server's or
// another contender's, and so that the official SDK, whose pollers cannot be
// stopped, ends with its process.
//
// Protocol (one line each):
//
//	child -> driver: "ready" once the process is initialised and the workers are built
//	driver -> child: "go": start the workers (polling begins)
//	child -> driver: "lat <ns>" per task when -latency is set (workflow start to handler)
//	child -> driver: "pick <workflowId> <unix ns> <scheduledTime ms>" per task when -pickup is set
//	driver -> child: "stats"  child -> driver: "stats {json procStats}"
//	driver -> child: "exit" (or EOF): the child writes its profiles and exits

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	bclient "github.com/baton-go/baton/sdk/client"
	bmodel "github.com/baton-go/baton/sdk/model"
	bsettings "github.com/baton-go/baton/sdk/settings"
	bworker "github.com/baton-go/baton/sdk/worker"

	oclient "github.com/conductor-sdk/conductor-go/sdk/client"
	omodel "github.com/conductor-sdk/conductor-go/sdk/model"
	osettings "github.com/conductor-sdk/conductor-go/sdk/settings"
	oworker "github.com/conductor-sdk/conductor-go/sdk/worker"
)

// Contender names.
const (
	contBaton    = "baton"
	contOfficial = "official"
	contLimit    = "limit"
	// contBatonB is Baton as built into another bench binary (-ab): the
	// same contender code over a patched SDK, for A/B runs.
	contBatonB = "baton-b"
	// contBatonV2 is Baton with WithUpdateV2(true): results posted to
	// /tasks/update-v2, which hands back the next task while a backlog
	// lasts (real-server mode, -contenders).
	contBatonV2 = "baton-v2"
)

var contenders = []string{contBaton, contOfficial, contLimit}

// procStats is what a child reports about itself.
type procStats struct {
	CPUNanos   int64  `json:"cpuNanos"`   // user + system time since the process started
	MaxRSSKB   int64  `json:"maxRssKB"`   // peak resident set size
	Mallocs    uint64 `json:"mallocs"`    // heap objects allocated since start
	HeapInuse  uint64 `json:"heapInuse"`  // bytes in in-use heap spans
	Sys        uint64 `json:"sys"`        // bytes obtained from the OS by the Go runtime
	Goroutines int    `json:"goroutines"` // goroutines now
	RSSKB      int64  `json:"rssKB"`      // resident set size now (from /proc/self/statm)
	FDs        int    `json:"fds"`        // open file descriptors now
	Sockets    int    `json:"sockets"`    // of which sockets (TCP connections, nearly all to the server)

	// Peaks seen by the sampler (-sample-peaks); zero without it.
	PeakStackKB    int64 `json:"peakStackKB"`    // goroutine stacks (MemStats.StackInuse)
	PeakHeapKB     int64 `json:"peakHeapKB"`     // heap spans in use (MemStats.HeapInuse)
	PeakGoroutines int   `json:"peakGoroutines"` // goroutines
	PeakFDs        int   `json:"peakFDs"`        // open file descriptors, nearly all of them sockets
}

// peakSampler tracks the peaks of the quantities behind RSS, so that a
// difference in peak RSS can be traced to stacks, heap or connections.
// Reading MemStats stops the world briefly, so only the memory scenario
// turns it on.
type peakSampler struct {
	mu   sync.Mutex
	peak procStats
	stop chan struct{}
	done chan struct{}

	// heapFile, when set, receives a heap profile each time the heap in use
	// grows 10 % past the last one written, so the profile shows the peak.
	heapFile    string
	heapWritten uint64
}

func startPeakSampler(every time.Duration, heapFile string) *peakSampler {
	ps := &peakSampler{stop: make(chan struct{}), done: make(chan struct{}), heapFile: heapFile}
	go func() {
		defer close(ps.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			ps.sample()
			select {
			case <-t.C:
			case <-ps.stop:
				return
			}
		}
	}()
	return ps
}

func (ps *peakSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := runtime.NumGoroutine()
	fds := 0
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.peak.PeakStackKB = max(ps.peak.PeakStackKB, int64(ms.StackInuse/1024))
	ps.peak.PeakHeapKB = max(ps.peak.PeakHeapKB, int64(ms.HeapInuse/1024))
	ps.peak.PeakGoroutines = max(ps.peak.PeakGoroutines, g)
	ps.peak.PeakFDs = max(ps.peak.PeakFDs, fds)
	if ps.heapFile != "" && ms.HeapInuse > ps.heapWritten+ps.heapWritten/10 {
		ps.heapWritten = ms.HeapInuse
		if f, err := os.Create(ps.heapFile); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			_ = f.Close()
		}
	}
}

// fill copies the peaks so far into st.
func (ps *peakSampler) fill(st *procStats) {
	if ps == nil {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	st.PeakStackKB, st.PeakHeapKB = ps.peak.PeakStackKB, ps.peak.PeakHeapKB
	st.PeakGoroutines, st.PeakFDs = ps.peak.PeakGoroutines, ps.peak.PeakFDs
}

func (ps *peakSampler) close() {
	if ps == nil {
		return
	}
	close(ps.stop)
	<-ps.done
}

func readProcStats() procStats {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, socks := openFDs()
	return procStats{
		CPUNanos:   ru.Utime.Nano() + ru.Stime.Nano(),
		MaxRSSKB:   peakRSSKB(ru.Maxrss),
		Mallocs:    ms.Mallocs,
		HeapInuse:  ms.HeapInuse,
		Sys:        ms.Sys,
		Goroutines: runtime.NumGoroutine(),
		RSSKB:      currentRSSKB(),
		FDs:        fds,
		Sockets:    socks,
	}
}

// openFDs counts this process's open file descriptors and, among them, the
// sockets.
func openFDs() (fds, sockets int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			sockets++
		}
	}
	return len(ents), sockets
}

// peakRSSKB reads VmHWM, the peak RSS of this process's own address space.
// ru_maxrss is not usable in a child started by fork+exec: Linux carries the
// parent's peak over the exec, so every child would report the driver's.
func peakRSSKB(fallback int64) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fallback
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return fallback
}

func currentRSSKB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()) / 1024
}

// childConfig is the command line of a contender process.
type childConfig struct {
	contender   string
	url         string
	types       []string
	batch       int
	interval    time.Duration
	sleep       time.Duration // handler duration (0: trivial handler)
	latency     bool          // report pickup latency per task
	pickup      bool          // report each task's workflow id and handler time (real-server mode)
	peaks       bool          // sample stack, heap, goroutine and fd peaks
	limitNoWait bool          // the limit polls with timeout 0 (real servers)
	cpuProfile  string
	memProfile  string
}

func childFlags(fs *flag.FlagSet, c *childConfig) *string {
	types := fs.String("types", "", "comma-separated task types to serve")
	fs.StringVar(&c.url, "url", "", "server base URL (…/api)")
	fs.IntVar(&c.batch, "batch", 1, "batch size (execution slots) per task type")
	fs.DurationVar(&c.interval, "interval", 100*time.Millisecond, "poll interval")
	fs.DurationVar(&c.sleep, "sleep", 0, "handler duration")
	fs.BoolVar(&c.latency, "latency", false, "report pickup latency of each task")
	fs.BoolVar(&c.pickup, "pickup", false, "report the workflow id and handler time of each task")
	fs.BoolVar(&c.peaks, "sample-peaks", false, "sample the peaks of stacks, heap, goroutines and open fds every 20 ms")
	fs.BoolVar(&c.limitNoWait, "limit-nowait", false, "the limit polls with timeout 0 and sleeps the poll interval after an empty answer (real servers)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the contender here")
	fs.StringVar(&c.memProfile, "memprofile", "", "write an allocation profile of the contender here")
	return types
}

// out serialises writes to stdout (handlers run on many goroutines).
type out struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *out) line(format string, args ...interface{}) {
	o.mu.Lock()
	fmt.Fprintf(o.w, format+"\n", args...)
	_ = o.w.Flush()
	o.mu.Unlock()
}

// work is the handler body shared by every contender: optional sleep, the
// latency report, and a small constant output.
type work struct {
	cfg childConfig
	o   *out
}

func (w *work) do(workflowID string, scheduledMs int64, input map[string]interface{}) {
	if w.cfg.pickup {
		w.o.line("pick %s %d %d", workflowID, time.Now().UnixNano(), scheduledMs)
	}
	if w.cfg.latency {
		if s, ok := input["t0"].(string); ok {
			if t0, err := strconv.ParseInt(s, 10, 64); err == nil {
				w.o.line("lat %d", time.Now().UnixNano()-t0)
			}
		}
	}
	if w.cfg.sleep > 0 {
		time.Sleep(w.cfg.sleep)
	}
}

var handlerOutput = map[string]interface{}{"ok": true}

func runChild(cfg childConfig) int {
	o := &out{w: bufio.NewWriter(os.Stdout)}
	var cpuFile *os.File
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cpuFile = f
	}
	w := &work{cfg: cfg, o: o}
	var begin func() error
	var stop func()
	switch cfg.contender {
	case contBaton:
		begin, stop = startBaton(w)
	case contBatonV2:
		begin, stop = startBaton(w, bworker.WithUpdateV2(true))
	case contOfficial:
		begin, stop = startOfficial(w)
	case contLimit:
		begin, stop = startLimit(w)
	default:
		fmt.Fprintf(os.Stderr, "bench: -contender must be one of %v, got %q\n", contenders, cfg.contender)
		return 2
	}
	if begin == nil {
		return 1
	}
	var ps *peakSampler
	if cfg.peaks {
		heapFile := ""
		if cfg.memProfile != "" {
			heapFile = strings.TrimSuffix(cfg.memProfile, ".allocs.pprof") + ".peakheap.pprof"
		}
		ps = startPeakSampler(20*time.Millisecond, heapFile)
	}
	o.line("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "stats":
			st := readProcStats()
			ps.fill(&st)
			b, _ := json.Marshal(st)
			o.line("stats %s", b)
			continue
		case "go":
			if err := begin(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			continue
		case "exit":
		default:
			continue
		}
		break
	}
	ps.close()
	if cpuFile != nil {
		pprof.StopCPUProfile()
		_ = cpuFile.Close()
	}
	if cfg.memProfile != "" {
		if f, err := os.Create(cfg.memProfile); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	stop()
	return 0
}

func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetLevel(logrus.WarnLevel)
	return l
}

func startBaton(w *work, extra ...bworker.Option) (func() error, func()) {
	log := quietLogger()
	c, err := bclient.New(nil, bsettings.NewHttpSettings(w.cfg.url), bclient.WithLogger(log))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return nil, nil
	}
	opts := []bworker.Option{bworker.WithLogger(log), bworker.WithWorkerID("bench-baton")}
	// BENCH_BATON_MAX_HELD_POLLS measures Baton with another held-poll bound
	// (the fleet guidance in RELIABILITY.md compares 4 and 0).
	if v := os.Getenv("BENCH_BATON_MAX_HELD_POLLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "BENCH_BATON_MAX_HELD_POLLS=%q: %v\n", v, err)
			return nil, nil
		}
		opts = append(opts, bworker.WithMaxHeldPolls(n))
	}
	opts = append(opts, extra...)
	r := bworker.NewTaskRunnerWithApiClient(c, opts...)
	fn := func(t *bmodel.Task) (interface{}, error) {
		w.do(t.WorkflowInstanceId, t.ScheduledTime, t.InputData)
		return handlerOutput, nil
	}
	begin := func() error {
		for _, tt := range w.cfg.types {
			if err := r.StartWorker(tt, fn, w.cfg.batch, w.cfg.interval); err != nil {
				return err
			}
		}
		return nil
	}
	return begin, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
		r.WaitWorkers()
	}
}

func startOfficial(w *work) (func() error, func()) {
	// The official SDK logs through the global logrus logger; keep it at the
	// same level as Baton's so neither pays for log lines the other skips.
	logrus.SetLevel(logrus.WarnLevel)
	logrus.SetOutput(os.Stderr)
	api := oclient.NewAPIClient(nil, osettings.NewHttpSettings(w.cfg.url))
	r := oworker.NewTaskRunnerWithApiClient(api)
	fn := func(t *omodel.Task) (interface{}, error) {
		w.do(t.WorkflowInstanceId, t.ScheduledTime, t.InputData)
		return handlerOutput, nil
	}
	begin := func() error {
		for _, tt := range w.cfg.types {
			if err := r.StartWorker(tt, fn, w.cfg.batch, w.cfg.interval); err != nil {
				return err
			}
		}
		return nil
	}
	// Its pollers cannot be stopped; the process exit ends them.
	return begin, func() {}
}
