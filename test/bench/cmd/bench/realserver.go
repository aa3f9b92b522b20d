package main

// Real-server mode (-server URL): the same three contenders, as the same
// child processes, against a real Conductor OSS server instead of the
// in-memory dev server. The driver talks to the server over plain HTTP
// (register definitions, start workflows, read a definition), and puts a
// small counting reverse proxy of its own in front of the server for the
// scenarios that need request counts (throughput and pickup latency).
//
// Every measured run registers its own task type (and workflow), named after
// this driver run, the scenario, the round and the contender, so tasks left
// in a queue by one run can never feed another.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// realPlan sizes a real-server run.
type realPlan struct {
	url     string // the server, …/api
	version string // e.g. 3.21.14
	store   string // e.g. redis, sqlite

	rounds      int
	warmup      time.Duration // minimum warm-up before the first measured run
	tputTasks1  int           // workflows per throughput run at batch 1
	tputTasks   int           // … at batch 10 and 100
	tputCap     time.Duration // a throughput run stops after this long
	isoSamples  int           // isolated pickups per contender and round
	isoWarm     int           // isolated tasks per contender before those, not counted
	bursts      int           // bursts per contender and round
	burstSize   int           // workflows per burst
	idleWindow  time.Duration // idle-poll window before the isolated tasks
	idleSettle  time.Duration // idle scenario: wait after the worker starts
	idleFor     time.Duration // idle scenario: measuring window
	typeCounts  []int         // N of the many-idle-types scenario
	typesSettle time.Duration // wait after the worker starts, before measuring
	typesFor    time.Duration // measuring window of one many-types run
	interval    time.Duration
	only        map[string]bool
	// autoSize shrinks tputTasks and tputTasks1 to what the server can
	// start in about startBudget (set from the warm-up's start rate): a
	// slow store (SQLite) starts some tens of workflows a second, and
	// pre-starting 2,000 per run would take most of the time budget.
	autoSize    bool
	startBudget time.Duration
	startRate   float64   // measured in the warm-up (workflows/s)
	warmTPS     []float64 // the warm-up runs' throughputs
	contenders  []string
	runID       string

	// warmupMax caps the warm-up: it goes on until two consecutive
	// warm-up runs agree within warmupAgree (relative), at least warmup
	// long, at most warmupMax.
	warmupMax   time.Duration
	warmupAgree float64
	// pin is where the server and the worker run; srvPIDs are the
	// server's processes (JVM, stores) whose CPU time is measured.
	pin     pinning
	srvPIDs []int
	// py is the official Python SDK's environment (nil: not measured).
	py *pythonEnv
	// profDir, when set, receives CPU and allocation profiles of every
	// throughput run's Go worker process.
	profDir string
}

func defaultRealPlan() realPlan {
	// Sized for about 12 minutes per server on a 2-core machine shared
	// with the server: throughput ~4 min, pickup ~3.5 min, idle types
	// ~3.5 min, warm-up 40 s.
	return realPlan{rounds: 3, warmup: 40 * time.Second, tputTasks1: 400, tputTasks: 2000, tputCap: 45 * time.Second,
		isoSamples: 20, isoWarm: 10, bursts: 2, burstSize: 50, idleWindow: 4 * time.Second,
		typeCounts: []int{10, 100, 400}, typesSettle: 3 * time.Second, typesFor: 6 * time.Second,
		interval: 100 * time.Millisecond, contenders: contenders, autoSize: true, startBudget: 8 * time.Second,
		warmupMax: 4 * time.Minute, warmupAgree: 0.10, idleSettle: 2 * time.Second, idleFor: 6 * time.Second}
}

// smokeRealPlan is a tiny run that only proves the wiring (about 2 minutes).
func smokeRealPlan() realPlan {
	p := defaultRealPlan()
	p.rounds, p.warmup, p.tputTasks1, p.tputTasks, p.tputCap = 1, 5*time.Second, 50, 200, 20*time.Second
	p.isoSamples, p.isoWarm, p.bursts, p.burstSize, p.idleWindow = 3, 1, 1, 10, 2*time.Second
	p.typeCounts, p.typesSettle, p.typesFor = []int{10}, 2*time.Second, 3*time.Second
	p.idleFor = 3 * time.Second
	return p
}

func (p realPlan) wants(s string) bool { return len(p.only) == 0 || p.only[s] }

// Real-server metric keys (besides mTPS, mReqPerTask, mCPUPerTask, mCapped, mDone).
const (
	mIsoP50     = "iso_p50_ms"
	mIsoP90     = "iso_p90_ms"
	mIsoP99     = "iso_p99_ms"
	mIsoSchP50  = "iso_sched_p50_ms" // from the task's scheduledTime instead of the start call's return
	mIsoLost    = "iso_lost"         // isolated tasks not picked up within the wait
	mBurstP50   = "burst_p50_ms"
	mBurstP90   = "burst_p90_ms"
	mBurstP99   = "burst_p99_ms"
	mBurstLost  = "burst_lost"
	mEarly      = "early" // tasks whose handler ran before the start call returned (counted as 0 ms)
	mIdleRPS    = "idle_rps_poller"
	mReadP50    = "read_p50_ms"
	mReadP90    = "read_p90_ms"
	mReadP99    = "read_p99_ms"
	mReads      = "reads"
	mReadErrs   = "read_errors"
	mBusyP50    = "busy_p50_ms"
	mBusyN      = "busy_n"
	mBusyLost   = "busy_lost"     // busy-type tasks not picked up by 5 s after the window
	mStartRate  = "start_rate"    // workflows started per second while pre-starting
	mIdleSrvCPU = "idle_srv_ms_s" // server CPU ms per second while one worker idles
	mIdleWrkCPU = "idle_wrk_ms_s" // that worker's CPU ms per second
	// mSrvCPU (server CPU µs per task) is the JVM's and its stores' here.
)

// contBaseline is the many-idle-types scenario's "no worker at all" row.
const contBaseline = "none"

// realServer is the driver's HTTP access to the server, plus the proxy.
type realServer struct {
	base  string // …/api
	hc    *http.Client
	proxy *countingProxy
}

func newRealServer(base string) (*realServer, error) {
	if err := loopbackOnly(base); err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute}}
	s := &realServer{base: strings.TrimSuffix(base, "/"), hc: hc}
	s.proxy, err = startCountingProxy(u)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// loopbackOnly refuses a server URL that is not on this machine: the
// benchmarks send thousands of requests a second.
func loopbackOnly(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-server must be a loopback address (127.0.0.1, localhost, [::1]), got %q", host)
	}
	return nil
}

func (s *realServer) close() {
	s.proxy.close()
	s.hc.CloseIdleConnections()
}

func (s *realServer) do(ctx context.Context, method, path string, body interface{}) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return b, fmt.Errorf("%s %s: status %d: %.300s", method, path, res.StatusCode, b)
	}
	return b, nil
}

// define registers the task types (SIMPLE) and, for those in withWorkflow,
// a workflow of that one task.
func (s *realServer) define(ctx context.Context, types []string, withWorkflow ...string) error {
	defs := make([]map[string]interface{}, len(types))
	for i, t := range types {
		defs[i] = map[string]interface{}{"name": t, "ownerEmail": "bench@example.com", "retryCount": 0,
			"timeoutSeconds": 0, "responseTimeoutSeconds": 600, "timeoutPolicy": "TIME_OUT_WF", "retryLogic": "FIXED"}
	}
	// Hundreds of definitions in one body is fine for the server; keep
	// bodies moderate anyway.
	for i := 0; i < len(defs); i += 100 {
		if _, err := s.do(ctx, http.MethodPost, "/metadata/taskdefs", defs[i:min(i+100, len(defs))]); err != nil {
			return err
		}
	}
	for _, t := range withWorkflow {
		wf := map[string]interface{}{"name": wfName(t), "version": 1, "ownerEmail": "bench@example.com", "schemaVersion": 2,
			"timeoutSeconds": 0, "timeoutPolicy": "ALERT_ONLY",
			"tasks": []map[string]interface{}{{"name": t, "taskReferenceName": "only", "type": "SIMPLE"}}}
		if _, err := s.do(ctx, http.MethodPost, "/metadata/workflow", wf); err != nil {
			return err
		}
	}
	return nil
}

// undefine removes what define registered, best effort: the definitions
// are unique to this driver run and nothing reads them again.
func (s *realServer) undefine(types []string, withWorkflow ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, t := range withWorkflow {
		_, _ = s.do(ctx, http.MethodDelete, "/metadata/workflow/"+url.PathEscape(wfName(t))+"/1", nil)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(8, len(types)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(types)); i = next.Add(1) - 1 {
				_, _ = s.do(ctx, http.MethodDelete, "/metadata/taskdefs/"+url.PathEscape(types[i]), nil)
			}
		}()
	}
	wg.Wait()
}

// start starts one workflow of taskType and returns its id and the time the
// start call returned.
func (s *realServer) start(ctx context.Context, taskType string) (string, time.Time, error) {
	b, err := s.do(ctx, http.MethodPost, "/workflow", map[string]interface{}{"name": wfName(taskType), "version": 1,
		"input": map[string]interface{}{}})
	at := time.Now()
	if err != nil {
		return "", at, err
	}
	return strings.Trim(strings.TrimSpace(string(b)), `"`), at, nil
}

// startMany starts n workflows with a few concurrent requests; with ids,
// it returns every workflow id and when its start call returned.
func (s *realServer) startMany(ctx context.Context, taskType string, n, conc int) (map[string]time.Time, error) {
	var mu sync.Mutex
	started := make(map[string]time.Time, n)
	var next atomic.Int64
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				id, at, err := s.start(ctx, taskType)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				started[id] = at
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return started, <-errs
}

// countingProxy forwards everything to the server and counts, by kind, the
// requests the contender makes: polls (GET, single and batch), update posts
// (POST /tasks and /tasks/update-v2, each one request, whatever the answer),
// and the updates the server acknowledged (2xx), which count tasks done.
type countingProxy struct {
	srv     *http.Server
	url     string // …/api on the proxy
	polls   atomic.Int64
	posts   atomic.Int64 // update requests, update-v2 included
	updates atomic.Int64 // answered 2xx
	other   atomic.Int64

	mu     sync.Mutex
	byType map[string]int64     // polls by task type (GET …/tasks/poll[/batch]/{type})
	first  map[string]time.Time // when each task type's first poll arrived
}

// firstPoll is when the first poll of taskType arrived, if one has.
func (p *countingProxy) firstPoll(taskType string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.first[taskType]
	return t, ok
}

// typePolls is the number of polls of one task type so far.
func (p *countingProxy) typePolls(taskType string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byType[taskType]
}

func startCountingProxy(target *url.URL) (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{byType: map[string]int64{}, first: map[string]time.Time{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
			r.Out.Host = target.Host
		},
		Transport: &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, IdleConnTimeout: time.Minute},
		ModifyResponse: func(res *http.Response) error {
			if res.Request.Method == http.MethodPost && res.StatusCode/100 == 2 {
				if path := res.Request.URL.Path; strings.HasSuffix(path, "/tasks") || strings.HasSuffix(path, "/tasks/update-v2") {
					p.updates.Add(1)
				}
			}
			return nil
		},
		// A worker that stops cancels its waiting long poll; that is no
		// error worth a log line.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
		// Nor is a body copy cut short by a worker closing its connection.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch {
		case r.Method == http.MethodGet && strings.Contains(path, "/tasks/poll/"):
			p.polls.Add(1)
			tt := path[strings.LastIndex(path, "/")+1:]
			p.mu.Lock()
			p.byType[tt]++
			if _, ok := p.first[tt]; !ok {
				p.first[tt] = time.Now()
			}
			p.mu.Unlock()
		case r.Method == http.MethodPost && (strings.HasSuffix(path, "/tasks/update-v2") || strings.HasSuffix(path, "/tasks")):
			p.posts.Add(1)
		default:
			p.other.Add(1)
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	p.url = "http://" + ln.Addr().String() + strings.TrimSuffix(target.Path, "/")
	return p, nil
}

type proxyCounts struct{ polls, posts, updates, other int64 }

func (p *countingProxy) counts() proxyCounts {
	return proxyCounts{p.polls.Load(), p.posts.Load(), p.updates.Load(), p.other.Load()}
}

func (p *countingProxy) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	_ = p.srv.Close()
}

// realResults holds, by scenario key, each contender's samples, one per round.
type realResults map[string]map[string][]sample

func (r realResults) add(sc, cont string, s sample) {
	if r[sc] == nil {
		r[sc] = map[string][]sample{}
	}
	r[sc][cont] = append(r[sc][cont], s)
}

func (r realResults) med(sc, cont, key string) float64 {
	return median(values(r[sc][cont], key))
}

// realRun is one driver run against one server: what the report needs.
type realRun struct {
	Version    string      `json:"version"`
	Store      string      `json:"store"`
	Date       time.Time   `json:"date"`
	Elapsed    string      `json:"elapsed"`
	Baton      string      `json:"baton"`
	Official   string      `json:"official"`
	Machine    string      `json:"machine"`
	Command    string      `json:"command"`
	Plan       realPlanDoc `json:"plan"`
	Results    realResults `json:"results"`
	WarmupTook string      `json:"warmupTook"`
	// Load is /proc/loadavg at the start and at the end: the machine is
	// shared, and a figure measured under a load of 10 says so.
	Load string `json:"load,omitempty"`
	// Pinning says where the server and the workers ran.
	Pinning string `json:"pinning,omitempty"`
	// Python is the official Python SDK's release, when it was measured.
	Python string `json:"python,omitempty"`
}

// loadAvg is the 1-, 5- and 15-minute load average, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// realPlanDoc is the part of the plan the report describes.
type realPlanDoc struct {
	Rounds      int     `json:"rounds"`
	TputTasks1  int     `json:"tputTasks1"`
	TputTasks   int     `json:"tputTasks"`
	TputCap     string  `json:"tputCap"`
	IsoSamples  int     `json:"isoSamples"`
	Bursts      int     `json:"bursts"`
	BurstSize   int     `json:"burstSize"`
	IdleWindow  string  `json:"idleWindow"`
	TypeCounts  []int   `json:"typeCounts"`
	TypesSettle string  `json:"typesSettle"`
	TypesFor    string  `json:"typesFor"`
	Interval    string  `json:"interval"`
	Warmup      string  `json:"warmup"`
	StartRate   float64 `json:"startRate,omitempty"` // workflows/s in the warm-up's last pre-start
	AutoSized   bool    `json:"autoSized,omitempty"`
	// WarmupTPS are the warm-up runs' throughputs (limit, batch 10); the
	// warm-up ends when the last two agree within WarmupAgree.
	WarmupTPS   []float64 `json:"warmupTPS,omitempty"`
	WarmupAgree float64   `json:"warmupAgree,omitempty"`
	WarmupMax   string    `json:"warmupMax,omitempty"`
}

func (p realPlan) doc() realPlanDoc {
	return realPlanDoc{Rounds: p.rounds, TputTasks1: p.tputTasks1, TputTasks: p.tputTasks, TputCap: p.tputCap.String(),
		IsoSamples: p.isoSamples, Bursts: p.bursts, BurstSize: p.burstSize, IdleWindow: p.idleWindow.String(),
		TypeCounts: p.typeCounts, TypesSettle: p.typesSettle.String(), TypesFor: p.typesFor.String(),
		Interval: p.interval.String(), Warmup: p.warmup.String(), StartRate: p.startRate, AutoSized: p.autoSize,
		WarmupTPS: p.warmTPS, WarmupAgree: p.warmupAgree, WarmupMax: p.warmupMax.String()}
}

// runReal runs every selected real-server scenario.
// sized receives the plan as run (after any auto-sizing).
func runReal(ctx context.Context, p realPlan, logw io.Writer, sized *realPlan) (realResults, time.Duration, error) {
	*sized = p
	s, err := newRealServer(p.url)
	if err != nil {
		return nil, 0, err
	}
	defer s.close()
	res := realResults{}
	logf := func(format string, args ...interface{}) { fmt.Fprintf(logw, format+"\n", args...) }

	var warm time.Duration
	if p.wants("tput") || p.wants("latency") || p.wants("idle") || p.wants("types") {
		t := time.Now()
		rate, tps, err := realWarmup(ctx, s, p, logf)
		if err != nil {
			return res, 0, fmt.Errorf("warm-up: %w", err)
		}
		warm = time.Since(t)
		p.startRate, p.warmTPS = rate, tps
		if p.autoSize && rate > 0 {
			fit := int(rate * p.startBudget.Seconds())
			p.tputTasks = max(min(200, p.tputTasks), min(p.tputTasks, fit/100*100))
			p.tputTasks1 = max(min(100, p.tputTasks1), min(p.tputTasks1, fit/2/100*100))
			logf("sizes: %.0f workflows/s started in the warm-up: %d workflows per throughput run at batch 10 and 100, %d at batch 1", rate, p.tputTasks, p.tputTasks1)
		}
	}
	*sized = p
	if p.wants("tput") {
		for _, batch := range []int{1, 10, 100} {
			sc := fmt.Sprintf("tput%d", batch)
			n := p.tputTasks
			if batch == 1 {
				n = p.tputTasks1
			}
			for r := 0; r < p.rounds; r++ {
				for _, c := range rotate(p.contenders, r) {
					if ctx.Err() != nil {
						return res, warm, ctx.Err()
					}
					t := time.Now()
					smp, err := realThroughput(ctx, s, p, c, fmt.Sprintf("%s_r%d", sc, r+1), batch, n)
					if err != nil {
						return res, warm, fmt.Errorf("%s round %d %s: %w", sc, r+1, c, err)
					}
					res.add(sc, c, smp)
					logf("%-8s round %d %-8s %6.1fs %s", sc, r+1, c, time.Since(t).Seconds(), smp.String())
				}
			}
		}
	}
	if p.wants("latency") {
		for r := 0; r < p.rounds; r++ {
			if ctx.Err() != nil {
				return res, warm, ctx.Err()
			}
			t := time.Now()
			smps, err := realLatencyRound(ctx, s, p, r, logf)
			if err != nil {
				return res, warm, fmt.Errorf("latency round %d: %w", r+1, err)
			}
			for _, c := range withoutV2(p.contenders) {
				res.add("latency", c, smps[c])
				logf("%-8s round %d %-8s %6.1fs %s", "latency", r+1, c, time.Since(t).Seconds(), smps[c].String())
			}
		}
	}
	if p.wants("idle") {
		for r := 0; r < p.rounds; r++ {
			for _, c := range append(rotate(withoutV2(p.contenders), r), contBaseline) {
				if ctx.Err() != nil {
					return res, warm, ctx.Err()
				}
				t := time.Now()
				smp, err := realIdle(ctx, s, p, c, r)
				if err != nil {
					return res, warm, fmt.Errorf("idle round %d %s: %w", r+1, c, err)
				}
				res.add("idle", c, smp)
				logf("%-8s round %d %-8s %6.1fs %s", "idle", r+1, c, time.Since(t).Seconds(), smp.String())
			}
		}
	}
	if p.wants("types") {
		fixed := "bench_" + p.runID + "_fixed"
		if err := s.define(ctx, []string{fixed}); err != nil {
			return res, warm, err
		}
		defer s.undefine([]string{fixed})
		// The read against the idle server does not depend on N: measure
		// it once per round, as the first of the round's runs.
		for r := 0; r < p.rounds; r++ {
			t := time.Now()
			smp, err := realManyTypes(ctx, s, p, contBaseline, r, 0, fixed)
			if err != nil {
				return res, warm, fmt.Errorf("types round %d, no worker: %w", r+1, err)
			}
			res.add("types0", contBaseline, smp)
			logf("%-8s round %d %-8s %6.1fs %s", "types0", r+1, contBaseline, time.Since(t).Seconds(), smp.String())
			for _, n := range p.typeCounts {
				sc := fmt.Sprintf("types%d", n)
				for _, c := range rotate([]string{contBaton, contOfficial}, r) {
					if ctx.Err() != nil {
						return res, warm, ctx.Err()
					}
					t := time.Now()
					smp, err := realManyTypes(ctx, s, p, c, r, n, fixed)
					if err != nil {
						return res, warm, fmt.Errorf("%s round %d %s: %w", sc, r+1, c, err)
					}
					res.add(sc, c, smp)
					logf("%-8s round %d %-8s %6.1fs %s", sc, r+1, c, time.Since(t).Seconds(), smp.String())
				}
			}
		}
	}
	return res, warm, nil
}

// withoutV2 leaves Baton with update-v2 out of the scenarios where it
// cannot differ from Baton: update-v2 is used only while a queue has a
// backlog, which an idle worker or an isolated task never sees.
func withoutV2(conts []string) []string {
	var out []string
	for _, c := range conts {
		if c != contBatonV2 {
			out = append(out, c)
		}
	}
	return out
}

// rotate is the contenders' order in round r: each goes first in turn.
func rotate(conts []string, r int) []string {
	out := make([]string, len(conts))
	for i := range conts {
		out[i] = conts[(i+r)%len(conts)]
	}
	return out
}

func (p realPlan) typeName(tag, contender string) string {
	return "bench_" + p.runID + "_" + tag + "_" + strings.ReplaceAll(contender, "-", "")
}

// realWarmup drains batches of workflows with the limit loop (batch 10)
// until two consecutive runs agree on the throughput within p.warmupAgree,
// but for at least p.warmup and at most p.warmupMax: a fresh Conductor
// server is slow for its first minutes (class loading, JIT, connection
// pools), and the first contender measured should not pay for that.
// It returns the start rate of its last run (workflows/s) and the
// throughput of each warm-up run.
func realWarmup(ctx context.Context, s *realServer, p realPlan, logf func(string, ...interface{})) (float64, []float64, error) {
	began := time.Now()
	n := min(500, p.tputTasks)
	rate := 0.0
	var tps []float64
	for i := 1; ; i++ {
		if ctx.Err() != nil {
			return 0, tps, ctx.Err()
		}
		smp, err := realThroughput(ctx, s, p, contLimit, fmt.Sprintf("warm%d", i), 10, n)
		if err != nil {
			return 0, tps, err
		}
		rate = smp[mStartRate]
		tps = append(tps, smp[mTPS])
		logf("warm-up  run %d   limit    %6.1fs elapsed %s", i, time.Since(began).Seconds(), smp.String())
		if warmedUp(tps, p.warmupAgree) && time.Since(began) >= p.warmup {
			break
		}
		if time.Since(began) >= p.warmupMax {
			logf("warm-up: stopped by the %v cap before two runs agreed within %.0f%%", p.warmupMax, p.warmupAgree*100)
			break
		}
		// On a slow server, smaller warm-up runs: several short ones
		// warm it as well as one long one and stop closer to the time.
		n = max(100, min(n, int(rate*8)))
	}
	return rate, tps, nil
}

// warmedUp reports whether the last two throughputs agree within agree
// (relative to the larger one).
func warmedUp(tps []float64, agree float64) bool {
	if len(tps) < 2 {
		return false
	}
	a, b := tps[len(tps)-2], tps[len(tps)-1]
	hi := max(a, b)
	return hi > 0 && (hi-min(a, b))/hi <= agree
}

// realThroughput pre-starts n workflows of a fresh task type, then starts
// the contender and measures until the server has acknowledged n task
// updates (counted at the proxy) or the cap passes.
func realThroughput(ctx context.Context, s *realServer, p realPlan, contender, tag string, batch, n int) (sample, error) {
	tt := p.typeName(tag, contender)
	if err := s.define(ctx, []string{tt}, tt); err != nil {
		return nil, err
	}
	defer s.undefine([]string{tt}, tt)
	t0 := time.Now()
	if _, err := s.startMany(ctx, tt, n, 8); err != nil {
		return nil, err
	}
	startRate := float64(n) / time.Since(t0).Seconds()
	o := spawnOpts{contender: contender, url: s.proxy.url, types: []string{tt}, batch: batch, interval: p.interval, limitNoWait: true, py: p.py}
	if p.profDir != "" && contender != contPython {
		o.profDir, o.profTag = p.profDir, tag
	}
	c, err := spawn(o)
	if err != nil {
		return nil, err
	}
	defer c.stop()
	st0, err := c.procStats()
	if err != nil {
		return nil, err
	}
	pc0 := s.proxy.counts()
	if err := c.send("go"); err != nil {
		return nil, err
	}
	// The clock starts at the contender's first poll: the Python SDK spawns
	// an interpreter per worker after "go", which takes a second or two and
	// is not what a task costs. Nothing is updated before the first poll,
	// so the counts from before "go" hold. The server's CPU is read from
	// there too, and an external child's CPU (read from /proc, at once)
	// as well; a Go child's from before "go" (a Go worker starts in
	// microseconds, and asking it over stdin would miss its first tasks).
	start, err := waitFirstPoll(ctx, s.proxy, c, tt, time.Minute)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", contender, err)
	}
	srv0 := treeCPU(p.srvPIDs...)
	if c.external {
		if st0, err = c.procStats(); err != nil {
			return nil, err
		}
	}
	deadline := start.Add(p.tputCap)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	capped := 0.0
	var end time.Time
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
			return nil, fmt.Errorf("%s child died: %s", contender, c.stderr.String())
		}
		now := time.Now()
		if s.proxy.updates.Load()-pc0.updates >= int64(n) {
			end = now
			break
		}
		if now.After(deadline) {
			end, capped = now, 1
			break
		}
	}
	pc1 := s.proxy.counts()
	srv1 := treeCPU(p.srvPIDs...)
	st1, err := c.procStats()
	if err != nil {
		return nil, err
	}
	done := float64(pc1.updates - pc0.updates)
	if done == 0 {
		return nil, fmt.Errorf("%s completed no task in %v", contender, p.tputCap)
	}
	out := sample{
		mTPS:        done / end.Sub(start).Seconds(),
		mReqPerTask: float64(pc1.polls-pc0.polls+pc1.posts-pc0.posts) / done,
		mCPUPerTask: float64(st1.CPUNanos-st0.CPUNanos) / done / 1e3,
		mCapped:     capped,
		mDone:       done,
		mStartRate:  startRate,
	}
	if len(p.srvPIDs) > 0 {
		out[mSrvCPU] = float64(srv1-srv0) / done / 1e3
	}
	return out, nil
}

// waitFirstPoll waits until the proxy has seen a poll of taskType and
// returns when it arrived.
func waitFirstPoll(ctx context.Context, p *countingProxy, c *child, taskType string, limit time.Duration) (time.Time, error) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(limit)
	for {
		if at, ok := p.firstPoll(taskType); ok {
			return at, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("no poll of %s within %v", taskType, limit)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-c.done:
			return time.Time{}, fmt.Errorf("child died: %s", c.stderr.String())
		}
	}
}

// pickLog collects a child's "pick" lines by workflow id, so that the
// driver can match them with its start calls in any order.
type pickLog struct {
	c    *child
	mu   sync.Mutex
	m    map[string]pickup
	done chan struct{}
}

func newPickLog(c *child) *pickLog {
	l := &pickLog{c: c, m: map[string]pickup{}, done: make(chan struct{})}
	go func() {
		for {
			select {
			case pk := <-c.pick:
				l.mu.Lock()
				l.m[pk.workflowID] = pk
				l.mu.Unlock()
			case <-c.done:
				return
			case <-l.done:
				return
			}
		}
	}()
	return l
}

func (l *pickLog) close() { close(l.done) }

// wait returns the pickups of the given workflows, waiting until all are in
// or the deadline passes.
func (l *pickLog) wait(ctx context.Context, ids map[string]time.Time, deadline time.Time) (map[string]pickup, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		got := map[string]pickup{}
		l.mu.Lock()
		for id := range ids {
			if pk, ok := l.m[id]; ok {
				got[id] = pk
			}
		}
		l.mu.Unlock()
		if len(got) == len(ids) || time.Now().After(deadline) {
			return got, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return got, ctx.Err()
		case <-l.c.done:
			return got, fmt.Errorf("child died: %s", l.c.stderr.String())
		}
	}
}

// latencies turns matched pickups into milliseconds from the start call's
// return (clamped at 0: on a server that answers a waiting poll at once, the
// handler can run before the start call's answer reaches the driver; those
// are counted in early) and from the task's scheduledTime.
func latencies(ids map[string]time.Time, got map[string]pickup) (fromReturn, fromSched []float64, early int) {
	for id, pk := range got {
		ms := float64(pk.at.Sub(ids[id])) / 1e6
		if ms < 0 {
			ms, early = 0, early+1
		}
		fromReturn = append(fromReturn, ms)
		if pk.scheduledMs > 0 {
			fromSched = append(fromSched, max(0, float64(pk.at.UnixNano()-pk.scheduledMs*1e6)/1e6))
		}
	}
	sort.Float64s(fromReturn)
	sort.Float64s(fromSched)
	return fromReturn, fromSched, early
}

// realLatencyRound runs one round of the pickup scenario. Each contender
// gets one child (batch 10, the plan's poll interval, defaults otherwise)
// on its own task type; the three run at the same time, so they meet the
// same server and machine. First their idle polls per second are counted
// at the proxy. Then isolated tasks: every 0.7–1.3 s (random, the same
// sequence every round) one workflow per contender is started, in turn, a
// third of that gap apart, whether or not the previous one was picked up
// (a worker slower than that sees its tasks queue, as it would in
// production). Then, one contender at a time, bursts of burstSize
// workflows started at once.
func realLatencyRound(ctx context.Context, s *realServer, p realPlan, round int, logf func(string, ...interface{})) (map[string]sample, error) {
	conts := rotate(withoutV2(p.contenders), round)
	types := map[string]string{}
	logs := map[string]*pickLog{}
	for _, c := range conts {
		tt := p.typeName(fmt.Sprintf("lat_r%d", round+1), c)
		types[c] = tt
		if err := s.define(ctx, []string{tt}, tt); err != nil {
			return nil, err
		}
		defer s.undefine([]string{tt}, tt)
		ch, err := spawn(spawnOpts{contender: c, url: s.proxy.url, types: []string{tt}, batch: 10, interval: p.interval, pickup: true, limitNoWait: true, py: p.py})
		if err != nil {
			return nil, err
		}
		defer ch.stop()
		logs[c] = newPickLog(ch)
		defer logs[c].close()
	}
	for _, c := range conts {
		if err := logs[c].c.send("go"); err != nil {
			return nil, err
		}
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	// Warm the workers up as a long-running process is: a few isolated
	// tasks each, picked up but not counted, teach Baton's runner how this
	// server treats held polls (it learns from tasks queued during them).
	if p.isoWarm > 0 {
		warm, err := s.startIsolated(ctx, conts, types, p.isoWarm, rand.New(rand.NewPCG(uint64(round)+101, 7)))
		if err != nil {
			return nil, err
		}
		deadline := time.Now().Add(15 * time.Second)
		for _, c := range conts {
			if _, err := logs[c].wait(ctx, warm[c], deadline); err != nil {
				return nil, fmt.Errorf("%s warm-up: %w", c, err)
			}
		}
		if err := sleepCtx(ctx, 2*time.Second); err != nil {
			return nil, err
		}
	}
	out := map[string]sample{}
	polls0, t0 := map[string]int64{}, time.Now()
	for _, c := range conts {
		polls0[c] = s.proxy.typePolls(types[c])
	}
	if err := sleepCtx(ctx, p.idleWindow); err != nil {
		return nil, err
	}
	secs := time.Since(t0).Seconds()
	for _, c := range conts {
		out[c] = sample{mIdleRPS: float64(s.proxy.typePolls(types[c])-polls0[c]) / secs}
	}

	iso, err := s.startIsolated(ctx, conts, types, p.isoSamples, rand.New(rand.NewPCG(uint64(round)+1, 7)))
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	early := map[string]int{}
	for _, c := range conts {
		got, err := logs[c].wait(ctx, iso[c], deadline)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		r, sch, e := latencies(iso[c], got)
		early[c] += e
		o := out[c]
		o[mIsoP50], o[mIsoP90], o[mIsoP99] = quantile(r, 0.5), quantile(r, 0.9), quantile(r, 0.99)
		o[mIsoSchP50], o[mIsoLost] = quantile(sch, 0.5), float64(len(iso[c])-len(got))
	}
	for _, c := range conts {
		var burst []float64
		lost := 0
		for b := 0; b < p.bursts; b++ {
			if err := sleepCtx(ctx, 1500*time.Millisecond); err != nil {
				return nil, err
			}
			ids, err := s.startMany(ctx, types[c], p.burstSize, p.burstSize)
			if err != nil {
				return nil, err
			}
			got, err := logs[c].wait(ctx, ids, time.Now().Add(30*time.Second))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c, err)
			}
			lost += len(ids) - len(got)
			r, _, e := latencies(ids, got)
			burst, early[c] = append(burst, r...), early[c]+e
		}
		sort.Float64s(burst)
		o := out[c]
		o[mBurstP50], o[mBurstP90], o[mBurstP99] = quantile(burst, 0.5), quantile(burst, 0.9), quantile(burst, 0.99)
		o[mBurstLost], o[mEarly] = float64(lost), float64(early[c])
	}
	return out, nil
}

// realIdle runs one worker process alone on one task type (batch 10, the
// plan's interval) whose queue stays empty, and measures, after it settled,
// the server's CPU time (JVM and stores), the worker's and its polls per
// second over p.idleFor. contBaseline: the same window with no worker.
func realIdle(ctx context.Context, s *realServer, p realPlan, contender string, round int) (sample, error) {
	var c *child
	tt := p.typeName(fmt.Sprintf("idle_r%d", round+1), contender)
	if contender != contBaseline {
		if err := s.define(ctx, []string{tt}); err != nil {
			return nil, err
		}
		defer s.undefine([]string{tt})
		var err error
		c, err = spawn(spawnOpts{contender: contender, url: s.proxy.url, types: []string{tt}, batch: 10, interval: p.interval, limitNoWait: true, py: p.py})
		if err != nil {
			return nil, err
		}
		defer c.stop()
		if err := c.send("go"); err != nil {
			return nil, err
		}
	}
	if err := sleepCtx(ctx, p.idleSettle); err != nil {
		return nil, err
	}
	var w0 procStats
	if c != nil {
		var err error
		if w0, err = c.procStats(); err != nil {
			return nil, err
		}
	}
	polls0, srv0, t0 := s.proxy.typePolls(tt), treeCPU(p.srvPIDs...), time.Now()
	if err := sleepCtx(ctx, p.idleFor); err != nil {
		return nil, err
	}
	polls1, srv1, secs := s.proxy.typePolls(tt), treeCPU(p.srvPIDs...), time.Since(t0).Seconds()
	out := sample{mIdleRPS: float64(polls1-polls0) / secs}
	if len(p.srvPIDs) > 0 {
		out[mIdleSrvCPU] = float64(srv1-srv0) / 1e6 / secs
	}
	if c != nil {
		w1, err := c.procStats()
		if err != nil {
			return nil, err
		}
		out[mIdleWrkCPU] = float64(w1.CPUNanos-w0.CPUNanos) / 1e6 / secs
	}
	return out, nil
}

// realManyTypes runs one worker process serving n task types, batch 1, of
// which only the first ever gets tasks (or no worker at all: contBaseline),
// lets it settle, then for p.typesFor measures an unrelated read (GET of a
// fixed task definition, one every 100 ms, straight to the server) while a
// single workflow of the busy type is started every 0.5–1.5 s, whose pickup
// is measured.
func realManyTypes(ctx context.Context, s *realServer, p realPlan, contender string, round, n int, fixed string) (sample, error) {
	out := sample{}
	if contender == contBaseline {
		if err := sleepCtx(ctx, 2*time.Second); err != nil {
			return nil, err
		}
		reads, errs := measureReads(ctx, s, fixed, p.typesFor)
		fillReads(out, reads, errs)
		return out, nil
	}
	types := make([]string, n)
	for i := range types {
		types[i] = p.typeName(fmt.Sprintf("n%d_r%d_%03d", n, round+1, i), contender)
	}
	busy := types[0]
	if err := s.define(ctx, types, busy); err != nil {
		return nil, err
	}
	defer s.undefine(types, busy)
	// Straight to the server: the proxy would add its own cost to hundreds
	// of idle polls, and nothing here needs counting.
	c, err := spawn(spawnOpts{contender: contender, url: s.base, types: types, batch: 1, interval: p.interval, pickup: true})
	if err != nil {
		return nil, err
	}
	defer c.stop()
	picks := newPickLog(c)
	defer picks.close()
	if err := c.send("go"); err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, p.typesSettle); err != nil {
		return nil, err
	}
	started := make(chan map[string]time.Time, 1)
	go func() {
		ids := map[string]time.Time{}
		defer func() { started <- ids }()
		rng := rand.New(rand.NewPCG(uint64(round)+11, 7))
		end := time.Now().Add(p.typesFor)
		for {
			if sleepCtx(ctx, 500*time.Millisecond+time.Duration(rng.Int64N(int64(time.Second)))) != nil || time.Now().After(end) {
				return
			}
			id, at, err := s.start(ctx, busy)
			if err != nil {
				return
			}
			ids[id] = at
		}
	}()
	reads, errs := measureReads(ctx, s, fixed, p.typesFor)
	ids := <-started
	got, err := picks.wait(ctx, ids, time.Now().Add(5*time.Second))
	if err != nil {
		return nil, err
	}
	lats, _, _ := latencies(ids, got)
	out[mBusyP50], out[mBusyN], out[mBusyLost] = quantile(lats, 0.5), float64(len(lats)), float64(len(ids)-len(got))
	fillReads(out, reads, errs)
	return out, nil
}

func fillReads(out sample, reads []float64, errs int) {
	out[mReadP50], out[mReadP90], out[mReadP99] = quantile(reads, 0.5), quantile(reads, 0.9), quantile(reads, 0.99)
	out[mReads], out[mReadErrs] = float64(len(reads)), float64(errs)
}

// measureReads GETs the fixed task definition once every 100 ms (the next
// one right away when a read took longer) for the window, and returns the
// latencies in ms, sorted, and the count of failed reads. A read still
// running when the window ends is waited for (up to the client's timeout).
func measureReads(ctx context.Context, s *realServer, name string, window time.Duration) ([]float64, int) {
	var lats []float64
	errs := 0
	end := time.Now().Add(window)
	next := time.Now()
	for time.Now().Before(end) && ctx.Err() == nil {
		if d := time.Until(next); d > 0 {
			if sleepCtx(ctx, d) != nil {
				break
			}
		}
		next = next.Add(100 * time.Millisecond)
		t := time.Now()
		_, err := s.do(ctx, http.MethodGet, "/metadata/taskdefs/"+url.PathEscape(name), nil)
		if err != nil {
			errs++
			continue
		}
		lats = append(lats, float64(time.Since(t))/1e6)
	}
	sort.Float64s(lats)
	return lats, errs
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startIsolated starts n rounds of one workflow per contender: every
// 0.7-1.3 s (from rng), the contenders in turn a fraction of that gap apart.
// It returns each contender's workflow ids with their start times.
func (s *realServer) startIsolated(ctx context.Context, conts []string, types map[string]string, n int, rng *rand.Rand) (map[string]map[string]time.Time, error) {
	started := map[string]map[string]time.Time{}
	for _, c := range conts {
		started[c] = map[string]time.Time{}
	}
	for i := 0; i < n; i++ {
		gap := 700*time.Millisecond + time.Duration(rng.Int64N(int64(600*time.Millisecond)))
		for _, c := range conts {
			if err := sleepCtx(ctx, gap/time.Duration(len(conts))); err != nil {
				return nil, err
			}
			id, at, err := s.start(ctx, types[c])
			if err != nil {
				return nil, err
			}
			started[c][id] = at
		}
	}
	return started, nil
}
