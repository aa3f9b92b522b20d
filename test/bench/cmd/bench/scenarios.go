package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"syscall"
	"time"
)

// sample is what one run of one contender measured, by metric key.
type sample map[string]float64

// Metric keys.
const (
	mTPS        = "tps"         // tasks completed per second
	mCPUPerTask = "cpu_us_task" // worker CPU microseconds per task
	mSrvCPU     = "srv_us_task" // server (driver process) CPU microseconds per task
	mAllocs     = "allocs_task" // heap allocations per task in the worker
	mReqPerTask = "req_task"    // HTTP requests (polls + updates) per task seen by the server
	mPeakRSS    = "rss_mb"      // peak RSS of the worker process, MiB
	mP50        = "p50_ms"
	mP90        = "p90_ms"
	mP99        = "p99_ms"
	mMean       = "mean_ms"
	mReqPerMin  = "req_min"   // requests per minute while idle
	mCPUPerMin  = "cpu_s_min" // CPU seconds per minute while idle
	mCapped     = "capped"    // 1 when the run hit its time cap before all tasks were done
	mDone       = "done"      // tasks completed in the run
	mPeakStack  = "stack_mb"  // peak goroutine stack memory of the worker, MiB
	mPeakHeap   = "heap_mb"   // peak heap in use of the worker, MiB
	mPeakG      = "peak_g"    // peak goroutines of the worker
	mPeakFDs    = "peak_fds"  // peak open file descriptors (sockets) of the worker
	mConnsOpen  = "conns"     // connections the worker opened in the run (server side)
	mPeakConns  = "peak_conns"
	mPeakFlight = "peak_flight" // peak requests in flight at the server
)

// plan sizes a whole benchmark run.
type plan struct {
	rounds        int
	tputTasks     int // at batch 1
	tputTasksBig  int // at batch 10 and 100 (short runs are noisy)
	tputCap       time.Duration
	latSamples    int
	latRounds     int
	idleFor       time.Duration
	idleRounds    int
	mixedTasks    int
	memTypes      int
	memTasks      int
	memBatch      int
	interval      time.Duration
	profDir       string
	onlyScenarios map[string]bool
	// contenders run in each round, in rotating order (default: contenders).
	contenders []string
	// binB is the bench binary whose Baton contender plays contBatonB.
	binB string
}

// spawnFor fills in which binary runs a contender.
func (p plan) spawnFor(o spawnOpts) spawnOpts {
	if o.contender == contBatonB {
		o.exe, o.label, o.contender = p.binB, contBatonB, contBaton
	}
	return o
}

// scenario is one line group of the report.
type scenario struct {
	key   string
	title string
	run   func(ctx context.Context, p plan, contender string, round int) (sample, error)
}

func scenarios() []scenario {
	return []scenario{
		{"tput1", "Throughput, trivial handler, batch 1", func(ctx context.Context, p plan, c string, r int) (sample, error) {
			return runBatch(ctx, p, c, fmt.Sprintf("tput1-r%d", r), 1, p.tputTasks, 1, 0, false)
		}},
		{"tput10", "Throughput, trivial handler, batch 10", func(ctx context.Context, p plan, c string, r int) (sample, error) {
			return runBatch(ctx, p, c, fmt.Sprintf("tput10-r%d", r), 1, p.tputTasksBig, 10, 0, false)
		}},
		{"tput100", "Throughput, trivial handler, batch 100", func(ctx context.Context, p plan, c string, r int) (sample, error) {
			return runBatch(ctx, p, c, fmt.Sprintf("tput100-r%d", r), 1, p.tputTasksBig, 100, 0, false)
		}},
		{"latency", "Pickup latency of an idle worker (batch 1)", runLatency},
		{"idle", "Idle cost, 10 task types (batch 1 each), cold: no task ever seen", func(ctx context.Context, p plan, c string, r int) (sample, error) {
			return runIdle(ctx, p, c, r, false)
		}},
		{"idlewarm", "Idle cost, 10 task types (batch 1 each), after 8 tasks", func(ctx context.Context, p plan, c string, r int) (sample, error) {
			return runIdle(ctx, p, c, r, true)
		}},
		{"mixed", "Mixed: 20 ms handler, batch 50", func(ctx context.Context, p plan, c string, r int) (sample, error) {
			return runBatch(ctx, p, c, fmt.Sprintf("mixed-r%d", r), 1, p.mixedTasks, 50, 20*time.Millisecond, false)
		}},
		{"memory", "Memory: 100 task types", func(ctx context.Context, p plan, c string, r int) (sample, error) {
			return runBatch(ctx, p, c, fmt.Sprintf("memory-r%d", r), p.memTypes, p.memTasks, p.memBatch, 0, true)
		}},
	}
}

func typeNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("bench_task_%03d", i)
	}
	return out
}

// runBatch preloads n workflows, starts the contender, and measures until
// every workflow has completed or the time cap passes. With peaks, the
// worker also reports the peaks of its stacks, heap, goroutines and fds.
func runBatch(ctx context.Context, p plan, contender, tag string, nTypes, n, batch int, sleep time.Duration, peaks bool) (sample, error) {
	newServer := newDevServer
	if peaks {
		newServer = newCountingDevServer
	}
	d, err := newServer()
	if err != nil {
		return nil, err
	}
	defer d.close()
	types := typeNames(nTypes)
	if err := d.define(ctx, types); err != nil {
		return nil, err
	}
	if err := d.startMany(ctx, types, n); err != nil {
		return nil, err
	}
	c, err := spawn(p.spawnFor(spawnOpts{contender: contender, url: d.url, types: types, batch: batch,
		interval: p.interval, sleep: sleep, peaks: peaks, profDir: p.profDir, profTag: tag}))
	if err != nil {
		return nil, err
	}
	defer c.stop()
	st0, err := c.procStats()
	if err != nil {
		return nil, err
	}
	srv0 := d.srv.Stats()
	var opened0 int64
	if d.conns != nil {
		opened0, _, _ = d.conns.snapshot()
	}
	self0 := selfCPU()
	start := time.Now()
	if err := c.send("go"); err != nil {
		return nil, err
	}
	deadline := start.Add(p.tputCap)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	capped := 0.0
	var end time.Time
	for {
		<-tick.C
		now := time.Now()
		if d.srv.Stats().WorkflowsComplete-srv0.WorkflowsComplete >= int64(n) {
			end = now
			break
		}
		if now.After(deadline) {
			end, capped = now, 1
			break
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("%s child died: %s", contender, c.stderr.String())
		default:
		}
	}
	srv1 := d.srv.Stats()
	self1 := selfCPU()
	st1, err := c.procStats()
	if err != nil {
		return nil, err
	}
	done := float64(srv1.WorkflowsComplete - srv0.WorkflowsComplete)
	if done == 0 {
		return nil, fmt.Errorf("%s completed no task in %v", contender, p.tputCap)
	}
	reqs := float64(srv1.Polls - srv0.Polls + srv1.Updates - srv0.Updates)
	out := sample{
		mTPS:        done / end.Sub(start).Seconds(),
		mCPUPerTask: float64(st1.CPUNanos-st0.CPUNanos) / done / 1e3,
		mSrvCPU:     float64(self1-self0) / done / 1e3,
		mAllocs:     float64(st1.Mallocs-st0.Mallocs) / done,
		mReqPerTask: reqs / done,
		mPeakRSS:    float64(st1.MaxRSSKB) / 1024,
		mCapped:     capped,
		mDone:       done,
	}
	if peaks {
		out[mPeakStack] = float64(st1.PeakStackKB) / 1024
		out[mPeakHeap] = float64(st1.PeakHeapKB) / 1024
		out[mPeakG] = float64(st1.PeakGoroutines)
		out[mPeakFDs] = float64(st1.PeakFDs)
	}
	if d.conns != nil {
		opened1, peakConns, peakFlight := d.conns.snapshot()
		out[mConnsOpen] = float64(opened1 - opened0)
		out[mPeakConns] = float64(peakConns)
		out[mPeakFlight] = float64(peakFlight)
	}
	return out, nil
}

// runLatency measures how long a single task waits between its workflow's
// start and the handler of an idle worker seeing it. Arrival gaps are random
// (uniform 50..250 ms, the same sequence for every contender and round), so
// they fall at every phase of a polling cycle.
func runLatency(ctx context.Context, p plan, contender string, round int) (sample, error) {
	d, err := newDevServer()
	if err != nil {
		return nil, err
	}
	defer d.close()
	types := typeNames(1)
	if err := d.define(ctx, types); err != nil {
		return nil, err
	}
	c, err := spawn(p.spawnFor(spawnOpts{contender: contender, url: d.url, types: types, batch: 1,
		interval: p.interval, latency: true, profDir: p.profDir, profTag: fmt.Sprintf("latency-r%d", round)}))
	if err != nil {
		return nil, err
	}
	defer c.stop()
	if err := c.send("go"); err != nil {
		return nil, err
	}
	// Let the worker reach its idle rhythm before the first task arrives.
	time.Sleep(1500 * time.Millisecond)
	rng := rand.New(rand.NewPCG(uint64(round)+1, 42))
	lats := make([]float64, 0, p.latSamples)
	for i := 0; i < p.latSamples; i++ {
		time.Sleep(50*time.Millisecond + time.Duration(rng.Int64N(int64(200*time.Millisecond))))
		if err := d.startOne(ctx, types[0]); err != nil {
			return nil, err
		}
		select {
		case l := <-c.lat:
			lats = append(lats, float64(l)/1e6)
		case <-time.After(15 * time.Second):
			return nil, fmt.Errorf("%s: task %d not picked up within 15s", contender, i)
		case <-c.done:
			return nil, fmt.Errorf("%s child died: %s", contender, c.stderr.String())
		}
	}
	sort.Float64s(lats)
	sum := 0.0
	for _, l := range lats {
		sum += l
	}
	return sample{mP50: quantile(lats, 0.50), mP90: quantile(lats, 0.90), mP99: quantile(lats, 0.99), mMean: sum / float64(len(lats))}, nil
}

// warmTasks is how many single tasks the "after tasks" idle scenario sends
// (to the first task type, 400..900 ms apart) before it starts measuring.
const warmTasks = 8

// runIdle measures the requests and CPU time of a worker serving 10 task
// types whose queues stay empty. warm: first send a few single tasks, as a
// worker in production sees (Baton learns from them that the server answers
// long polls early and lengthens its poll timeout); cold: nothing ever.
func runIdle(ctx context.Context, p plan, contender string, round int, warm bool) (sample, error) {
	d, err := newRecordingDevServer()
	if err != nil {
		return nil, err
	}
	defer d.close()
	types := typeNames(10)
	if err := d.define(ctx, types); err != nil {
		return nil, err
	}
	c, err := spawn(p.spawnFor(spawnOpts{contender: contender, url: d.url, types: types, batch: 1,
		interval: p.interval, latency: warm, profDir: p.profDir, profTag: fmt.Sprintf("idle-r%d", round)}))
	if err != nil {
		return nil, err
	}
	defer c.stop()
	if err := c.send("go"); err != nil {
		return nil, err
	}
	if warm {
		time.Sleep(500 * time.Millisecond)
		rng := rand.New(rand.NewPCG(uint64(round)+7, 42))
		for i := 0; i < warmTasks; i++ {
			// Gaps of 400..900 ms: tasks land inside a waiting long poll,
			// not right after the short polls a worker may make after a task.
			time.Sleep(400*time.Millisecond + time.Duration(rng.Int64N(int64(500*time.Millisecond))))
			if err := d.startOne(ctx, types[0]); err != nil {
				return nil, err
			}
			select {
			case <-c.lat:
			case <-time.After(15 * time.Second):
				return nil, fmt.Errorf("%s: warm-up task %d not picked up within 15s", contender, i)
			}
		}
	}
	time.Sleep(2 * time.Second)
	st0, err := c.procStats()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	time.Sleep(p.idleFor)
	st1, err := c.procStats()
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	return sample{
		mReqPerMin: d.polls.ratePerMinute(t0, t1),
		mCPUPerMin: float64(st1.CPUNanos-st0.CPUNanos) / 1e9 / t1.Sub(t0).Minutes(),
	}, nil
}

// quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// results[scenario][contender] holds one sample per round.
type results map[string]map[string][]sample

// runAll runs every selected scenario, alternating the contenders' order
// from round to round so that none always goes first.
func runAll(ctx context.Context, p plan, logw io.Writer) (results, error) {
	res := results{}
	for _, sc := range scenarios() {
		if len(p.onlyScenarios) > 0 && !p.onlyScenarios[sc.key] {
			continue
		}
		rounds := p.rounds
		switch sc.key {
		case "latency":
			rounds = p.latRounds
		case "idle", "idlewarm":
			rounds = p.idleRounds
		}
		res[sc.key] = map[string][]sample{}
		for r := 0; r < rounds; r++ {
			conts := p.contenders
			if len(conts) == 0 {
				conts = contenders
			}
			for i := range conts {
				cont := conts[(i+r)%len(conts)]
				t := time.Now()
				s, err := sc.run(ctx, p, cont, r)
				if err != nil {
					return res, fmt.Errorf("%s, round %d, %s: %w", sc.key, r+1, cont, err)
				}
				res[sc.key][cont] = append(res[sc.key][cont], s)
				fmt.Fprintf(logw, "%-8s round %d %-8s %6.1fs %s\n", sc.key, r+1, cont, time.Since(t).Seconds(), s.String())
			}
		}
	}
	return res, nil
}

func (s sample) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for _, k := range keys {
		out += fmt.Sprintf(" %s=%.4g", k, s[k])
	}
	return out
}

// selfCPU is this (the driver's) process's CPU time in nanoseconds: the
// server's work plus the driver's light bookkeeping.
func selfCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
