package main

// Soak: one Baton worker process serving a few task types under a steady
// load for a long time, against the in-process dev server or a real
// Conductor server, with the server restarted every so often. It samples the
// worker's RSS, heap, goroutines and open sockets, and the workflows
// completed, and checks at the end that every workflow it started completed.
//
// Every started workflow is tracked by id: from two seconds after its start
// the driver reads its status (GET /workflow/{id}) until it is COMPLETED (then
// the driver removes it, so the server's store does not grow for half an
// hour) or ends otherwise (counted as failed). When the load stops, the
// driver waits up to -soak-drain for the last ones.
//
// Restarts (-soak-restart-every):
//   - real server: killed with SIGKILL and started again on the same port
//     with its store kept (jvm.go); while it boots, starts are refused
//     (counted, not tracked) and the worker's polls and updates fail;
//   - dev server: conductortest's Down/Up: the listener and every
//     connection are closed for -soak-down and the server listens again on
//     the same port with its state kept. The in-memory state cannot survive
//     a real process restart; Down/Up is the part of a restart a worker
//     sees.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
)

const (
	soakTypes       = 4
	soakBatch       = 10
	soakSampleEvery = 10 * time.Second
	soakWarmup      = time.Minute
	// soakCheckAfter is how long after its start a workflow's status is
	// first read, and then again until it is done.
	soakCheckAfter = 2 * time.Second
	// soakQuietEnd: no restart this close to the end of the load, so the
	// server is up and serving for the last minutes.
	soakQuietEnd = 3 * time.Minute
	// soakResponseTimeout is the soak tasks' responseTimeoutSeconds.
	soakResponseTimeout = 2 * time.Minute
)

type soakConfig struct {
	dur          time.Duration
	rate         int
	restartEvery time.Duration // 0: no restarts
	downFor      time.Duration // dev server: how long each restart keeps it down
	drain        time.Duration // after the load, the longest wait for the last workflows
	server       string        // "": the in-process dev server; else a real server's …/api
	serverPID    int           // real server: its process id (for restarts and its RSS/CPU)
	version      string
	store        string
	out, chart   string
	command      string
}

type soakPoint struct {
	at                  time.Duration
	started, completed  int64
	failed, pending     int64
	startErrs           int64
	st                  procStats
	server              procSample // real server only
	up                  bool
	restarts            int
	draining            bool
	completedInInterval int64
}

type soakRestart struct {
	at, down time.Duration
	err      string
}

// soakAPI is the few calls the soak makes, over plain HTTP.
type soakAPI struct {
	base string
	hc   *http.Client
}

func (a *soakAPI) do(ctx context.Context, method, path string, body interface{}, out interface{}) (int, error) {
	var rd *strings.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = strings.NewReader(string(b))
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, a.base+path, rd)
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, method, a.base+path, nil)
	}
	if err != nil {
		return 0, err
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("%s %s: status %d: %.200s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if s, ok := out.(*string); ok {
			*s = strings.Trim(strings.TrimSpace(string(b)), `"`)
			return res.StatusCode, nil
		}
		return res.StatusCode, json.Unmarshal(b, out)
	}
	return res.StatusCode, nil
}

func (a *soakAPI) define(ctx context.Context, types []string) error {
	defs := make([]map[string]interface{}, len(types))
	for i, t := range types {
		// A task handed out in a poll answer that a restart cut never reaches
		// the worker; the server hands it out again after its response
		// timeout (one retry). The timeout is longer than any restart here
		// plus the worker's 5 s retry cap, so a result the worker holds
		// through a restart still arrives in time; see soakCheck for how
		// the two kinds of second hand-out are told apart.
		defs[i] = map[string]interface{}{"name": t, "ownerEmail": "bench@example.com", "retryCount": 1, "retryDelaySeconds": 0,
			"timeoutSeconds": 0, "responseTimeoutSeconds": int(soakResponseTimeout.Seconds()), "timeoutPolicy": "TIME_OUT_WF", "retryLogic": "FIXED"}
	}
	if _, err := a.do(ctx, http.MethodPost, "/metadata/taskdefs", defs, nil); err != nil {
		return err
	}
	for _, t := range types {
		wf := map[string]interface{}{"name": wfName(t), "version": 1, "ownerEmail": "bench@example.com", "schemaVersion": 2,
			"timeoutSeconds": 0, "timeoutPolicy": "ALERT_ONLY",
			"tasks": []map[string]interface{}{{"name": t, "taskReferenceName": "only", "type": "SIMPLE"}}}
		if _, err := a.do(ctx, http.MethodPost, "/metadata/workflow", wf, nil); err != nil {
			return err
		}
	}
	return nil
}

// soakTrack holds the started workflows not yet seen done, oldest first.
type soakTrack struct {
	mu      sync.Mutex
	queue   []soakEntry
	started atomic.Int64
	done    atomic.Int64
	failed  atomic.Int64
	errs    atomic.Int64 // refused or failed start calls
	failIDs []string

	// Workflows whose task the server handed out a second time after its
	// response timeout: cut means the first hand-out never reached the
	// handler (its poll answer was lost in a restart), twice that the
	// handler ran both (the first result did not reach the server in time).
	again1, again2 atomic.Int64
	twiceIDs       []string

	pickMu sync.Mutex
	picks  map[string]uint8 // handler runs by workflow id
}

type soakEntry struct {
	id      string
	started time.Time
	next    time.Time
}

// notePicks counts the worker's handler runs by workflow id until the
// child ends or ctx does.
func (t *soakTrack) notePicks(ctx context.Context, c *child) {
	for {
		select {
		case pk := <-c.pick:
			t.pickMu.Lock()
			if t.picks[pk.workflowID] < 255 {
				t.picks[pk.workflowID]++
			}
			t.pickMu.Unlock()
		case <-c.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (t *soakTrack) pickCount(id string) uint8 {
	t.pickMu.Lock()
	defer t.pickMu.Unlock()
	return t.picks[id]
}

func (t *soakTrack) forget(id string) {
	t.pickMu.Lock()
	delete(t.picks, id)
	t.pickMu.Unlock()
}

func (t *soakTrack) add(id string) {
	t.started.Add(1)
	t.mu.Lock()
	now := time.Now()
	t.queue = append(t.queue, soakEntry{id: id, started: now, next: now.Add(soakCheckAfter)})
	t.mu.Unlock()
}

// pending is the workflows started and not yet seen done (some may be
// out of the queue for a check right now).
func (t *soakTrack) pending() int64 {
	return t.started.Load() - t.done.Load() - t.failed.Load()
}

// due takes the entries whose check is due.
func (t *soakTrack) due(now time.Time, limit int) []soakEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for n < len(t.queue) && n < limit && !t.queue[n].next.After(now) {
		n++
	}
	out := append([]soakEntry(nil), t.queue[:n]...)
	t.queue = t.queue[n:]
	return out
}

func (t *soakTrack) again(es []soakEntry) {
	if len(es) == 0 {
		return
	}
	next := time.Now().Add(soakCheckAfter)
	t.mu.Lock()
	for _, e := range es {
		e.next = next
		t.queue = append(t.queue, e)
	}
	t.mu.Unlock()
}

// classifyLate looks at a workflow that completed later than the response
// timeout: if its task was handed out twice, the worker's handler-run count
// says whether the first hand-out reached the worker.
func (t *soakTrack) classifyLate(ctx context.Context, api *soakAPI, id string) {
	var wf struct {
		Tasks []struct {
			Status string `json:"status"`
		} `json:"tasks"`
	}
	if _, err := api.do(ctx, http.MethodGet, "/workflow/"+url.PathEscape(id)+"?includeTasks=true", nil, &wf); err != nil || len(wf.Tasks) < 2 {
		return
	}
	// The handler's report of the second run may trail the status by a
	// moment.
	_ = sleepCtx(ctx, time.Second)
	if t.pickCount(id) >= 2 {
		t.again2.Add(1)
		t.mu.Lock()
		if len(t.twiceIDs) < 10 {
			t.twiceIDs = append(t.twiceIDs, id)
		}
		t.mu.Unlock()
		return
	}
	t.again1.Add(1)
}

// soakLoad starts rate workflows per second, spread over the types. A start
// the server refuses (it is down) is counted and not retried: the load is
// steady, not made up afterwards.
func soakLoad(ctx context.Context, api *soakAPI, types []string, rate int, tr *soakTrack) {
	const step = 20 * time.Millisecond
	perStep := float64(rate) * step.Seconds()
	tick := time.NewTicker(step)
	defer tick.Stop()
	owed, n := 0.0, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// A slow start call does not pile up a burst behind it.
		owed = min(owed+perStep, float64(rate))
		for ; owed >= 1 && ctx.Err() == nil; owed-- {
			var id string
			_, err := api.do(ctx, http.MethodPost, "/workflow", map[string]interface{}{"name": wfName(types[n%len(types)]), "version": 1,
				"input": map[string]interface{}{"t0": "0"}}, &id)
			n++
			if err != nil || id == "" {
				if ctx.Err() == nil {
					tr.errs.Add(1)
				}
				continue
			}
			tr.add(id)
		}
	}
}

// soakCheck reads the status of due workflows until stop is closed.
func soakCheck(ctx context.Context, api *soakAPI, tr *soakTrack, conc int) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		es := tr.due(time.Now(), 4000)
		if len(es) == 0 {
			continue
		}
		var mu sync.Mutex
		var retry []soakEntry
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < int64(len(es)); i = next.Add(1) - 1 {
					e := es[i]
					var wf struct {
						Status string `json:"status"`
					}
					_, err := api.do(ctx, http.MethodGet, "/workflow/"+url.PathEscape(e.id)+"?includeTasks=false", nil, &wf)
					switch {
					case err != nil || wf.Status == "RUNNING" || wf.Status == "PAUSED":
						mu.Lock()
						retry = append(retry, e)
						mu.Unlock()
					case wf.Status == "COMPLETED":
						tr.done.Add(1)
						if time.Since(e.started) > soakResponseTimeout {
							tr.classifyLate(ctx, api, e.id)
						}
						tr.forget(e.id)
						// Best effort: a workflow left behind only costs the server memory.
						_, _ = api.do(ctx, http.MethodDelete, "/workflow/"+url.PathEscape(e.id)+"/remove?archiveWorkflow=false", nil, nil)
					default:
						tr.failed.Add(1)
						tr.mu.Lock()
						if len(tr.failIDs) < 10 {
							tr.failIDs = append(tr.failIDs, e.id+" ("+wf.Status+")")
						}
						tr.mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		tr.again(retry)
	}
}

func runSoak(ctx context.Context, cfg soakConfig) int {
	if cfg.rate < 1 {
		fmt.Fprintf(os.Stderr, "bench: -soak-rate must be >= 1, got %d\n", cfg.rate)
		return 2
	}
	api := &soakAPI{hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}}
	defer api.hc.CloseIdleConnections()
	var dev *conductortest.Server
	var jvm *jvmServer
	if cfg.server == "" {
		d, err := newDevServer()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer d.close()
		dev, api.base = d.srv, d.srv.URL()
		cfg.version, cfg.store = "dev server (sdk/conductortest)", "memory"
	} else {
		if err := loopbackOnly(cfg.server); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
		api.base = strings.TrimSuffix(cfg.server, "/")
		if cfg.restartEvery > 0 || cfg.serverPID > 0 {
			if cfg.serverPID <= 0 {
				fmt.Fprintln(os.Stderr, "bench: restarting a real server needs -server-pid (or CONDUCTOR_SERVER_PID)")
				return 2
			}
			j, err := adoptJVM(cfg.serverPID, cfg.server)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 1
			}
			jvm = j
			defer jvm.stop()
		}
	}
	types := typeNames(soakTypes)
	if cfg.server != "" {
		// Fresh names on a real server, whose store outlives this run.
		for i := range types {
			types[i] = fmt.Sprintf("soak_%x_%s", time.Now().Unix()&0xffffff, types[i])
		}
	}
	if err := api.define(ctx, types); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	c, err := spawn(spawnOpts{contender: contBaton, url: api.base, types: types, batch: soakBatch, interval: 100 * time.Millisecond, pickup: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer c.stop()
	if err := c.send("go"); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	tr := &soakTrack{picks: map[string]uint8{}}
	pickCtx, stopPicks := context.WithCancel(ctx)
	defer stopPicks()
	go tr.notePicks(pickCtx, c)
	start := time.Now()
	var up atomic.Bool
	up.Store(true)
	var restarts []soakRestart
	var restartsMu sync.Mutex
	var wg sync.WaitGroup

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	checkCtx, stopCheck := context.WithCancel(ctx)
	defer stopCheck()
	wg.Add(2)
	go func() { defer wg.Done(); soakLoad(loadCtx, api, types, cfg.rate, tr) }()
	go func() { defer wg.Done(); soakCheck(checkCtx, api, tr, 8) }()
	restartDone := make(chan struct{})
	go func() {
		defer close(restartDone)
		if cfg.restartEvery <= 0 {
			return
		}
		for k := 1; ; k++ {
			at := time.Duration(k) * cfg.restartEvery
			if at > cfg.dur-min(soakQuietEnd, cfg.dur/4) {
				return
			}
			if sleepCtx(loadCtx, time.Until(start.Add(at))) != nil {
				return
			}
			t0 := time.Now()
			up.Store(false)
			var rerr error
			if dev != nil {
				dev.Down(0) // until Up
				_ = sleepCtx(ctx, cfg.downFor)
				rerr = dev.Up()
			} else {
				fmt.Fprintf(os.Stderr, "soak: killing the server (pid %d) and starting it again\n", jvm.pid)
				if rerr = jvm.kill(); rerr == nil {
					if rerr = jvm.start(); rerr == nil {
						rerr = jvm.waitHealthy(ctx, 8*time.Minute)
					}
				}
			}
			up.Store(rerr == nil)
			r := soakRestart{at: t0.Sub(start), down: time.Since(t0)}
			if rerr != nil {
				r.err = rerr.Error()
			}
			fmt.Fprintf(os.Stderr, "soak: restart %d at %v: down %v %s\n", k, r.at.Round(time.Second), r.down.Round(time.Second), r.err)
			restartsMu.Lock()
			restarts = append(restarts, r)
			restartsMu.Unlock()
			if rerr != nil {
				stopLoad()
				return
			}
		}
	}()

	var points []soakPoint
	tick := time.NewTicker(soakSampleEvery)
	defer tick.Stop()
	var lastDone int64
	sample := func(draining bool) error {
		st, err := c.procStats()
		if err != nil {
			return err
		}
		restartsMu.Lock()
		nr := len(restarts)
		restartsMu.Unlock()
		done := tr.done.Load()
		p := soakPoint{at: time.Since(start), started: tr.started.Load(), completed: done, failed: tr.failed.Load(),
			pending: tr.pending(), startErrs: tr.errs.Load(), st: st, up: up.Load(), restarts: nr, draining: draining,
			completedInInterval: done - lastDone}
		lastDone = done
		if jvm != nil {
			p.server, _ = readProcSample(jvm.pid)
		}
		points = append(points, p)
		fmt.Fprintf(os.Stderr, "soak %6s started=%d completed=%d pending=%d failed=%d refused=%d rss=%.1fMiB heap=%.1fMiB goroutines=%d sockets=%d up=%v\n",
			p.at.Round(time.Second), p.started, p.completed, p.pending, p.failed, p.startErrs, float64(st.RSSKB)/1024,
			float64(st.HeapInuse)/(1<<20), st.Goroutines, st.Sockets, p.up)
		return nil
	}
	failed := ""
loop:
	for time.Since(start) < cfg.dur {
		select {
		case <-tick.C:
			if err := sample(false); err != nil {
				failed = "worker: " + err.Error()
				break loop
			}
		case <-loadCtx.Done():
			failed = "interrupted or a restart failed"
			break loop
		}
	}
	stopLoad()
	<-restartDone
	loadEnd := time.Since(start)
	// Drain: until every started workflow is done, or the drain time passes.
	drainEnd := time.Now().Add(cfg.drain)
	for failed == "" && tr.pending() > 0 && time.Now().Before(drainEnd) && ctx.Err() == nil {
		select {
		case <-tick.C:
			if err := sample(true); err != nil {
				failed = "worker: " + err.Error()
			}
		case <-ctx.Done():
		}
	}
	if failed == "" && ctx.Err() == nil {
		// Let the checker's last pass finish, then one closing sample.
		_ = sleepCtx(ctx, time.Second)
		_ = sample(true)
	}
	stopCheck()
	wg.Wait()
	restartsMu.Lock()
	rs := append([]soakRestart(nil), restarts...)
	restartsMu.Unlock()
	for _, r := range rs {
		if r.err != "" && failed == "" {
			failed = "restart failed: " + r.err
		}
	}
	md, ok := soakReport(cfg, points, rs, tr, loadEnd, failed)
	if cfg.out == "" {
		fmt.Print(md)
	} else if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cfg.chart != "" {
		if err := drawSoakChart(cfg, points, rs, cfg.chart); err != nil {
			fmt.Fprintln(os.Stderr, "bench: chart:", err)
			return 1
		}
	}
	if !ok {
		return 3
	}
	return 0
}

func medianOf(ps []soakPoint, f func(soakPoint) float64) float64 {
	v := make([]float64, len(ps))
	for i, p := range ps {
		v[i] = f(p)
	}
	sort.Float64s(v)
	return median(v)
}

// soakReport judges flatness from the samples taken under load after the
// warm-up (the median of the last third against that of the first third:
// RSS and heap may grow by at most 10 % + 2 MiB, goroutines and sockets by
// at most 5) and loss from the workflow accounting (none failed, none still
// running after the drain).
func soakReport(cfg soakConfig, points []soakPoint, rs []soakRestart, tr *soakTrack, loadEnd time.Duration, failed string) (string, bool) {
	var b strings.Builder
	w := func(format string, args ...interface{}) { fmt.Fprintf(&b, format, args...) }
	server := cfg.version
	if cfg.server != "" {
		server = fmt.Sprintf("Conductor %s (%s)", cfg.version, cfg.store)
	}
	w("# Soak: Baton worker under steady load, %s\n\n", server)
	w("- Date: %s; machine: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), machineInfo())
	w("- Baton: %s\n", batonRevision())
	w("- Command: `%s`\n", cfg.command)
	w("- Load: %d workflows/s of one SIMPLE task over %d task types (one Baton worker process, batch %d per type, poll interval 100 ms, trivial handler) for %v. ",
		cfg.rate, soakTypes, soakBatch, loadEnd.Round(time.Second))
	w("Each workflow is tracked by id until it is COMPLETED (then removed from the server).\n")
	if cfg.restartEvery > 0 {
		if cfg.server == "" {
			w("- Restarts: every %v the dev server goes down for %v (listener and every connection closed, its state kept: conductortest Down/Up) and comes back on the same port.\n", cfg.restartEvery, cfg.downFor)
		} else {
			w("- Restarts: every %v the server is killed (SIGKILL) and started again with the same command line, port and store; starts refused while it boots are counted, not tracked.\n", cfg.restartEvery)
		}
	}
	w("- Sampled every %v: the worker's RSS (/proc/self/statm), heap in use and goroutines (Go runtime), open sockets (/proc/self/fd)", soakSampleEvery)
	if cfg.server != "" && cfg.serverPID > 0 {
		w("; the server JVM's RSS and CPU (/proc/PID/stat)")
	}
	w(".\n\n")

	var steady []soakPoint
	for _, p := range points {
		if p.at >= soakWarmup && !p.draining {
			steady = append(steady, p)
		}
	}
	started, done, fail, pend := tr.started.Load(), tr.done.Load(), tr.failed.Load(), tr.pending()
	twice := tr.again2.Load()
	lossOK := fail == 0 && pend == 0 && started > 0 && twice == 0
	flat := false
	w("## Verdict\n\n")
	if len(steady) >= 6 {
		third := len(steady) / 3
		first, last := steady[:third], steady[len(steady)-third:]
		type row struct {
			name   string
			f      func(soakPoint) float64
			slack  func(float64) float64
			format string
		}
		mib := func(kb int64) float64 { return float64(kb) / 1024 }
		rows := []row{
			{"RSS MiB", func(p soakPoint) float64 { return mib(p.st.RSSKB) }, func(v float64) float64 { return v*1.1 + 2 }, "%.1f"},
			{"Heap in use MiB", func(p soakPoint) float64 { return float64(p.st.HeapInuse) / (1 << 20) }, func(v float64) float64 { return v*1.1 + 2 }, "%.1f"},
			{"Goroutines", func(p soakPoint) float64 { return float64(p.st.Goroutines) }, func(v float64) float64 { return v + 5 }, "%.0f"},
			{"Open sockets", func(p soakPoint) float64 { return float64(p.st.Sockets) }, func(v float64) float64 { return v + 5 }, "%.0f"},
		}
		flat = true
		w("Worker process, medians of the first and the last third of the samples under load after a %v warm-up (flat: RSS and heap grow at most 10 %% + 2 MiB, goroutines and sockets at most 5):\n\n", soakWarmup)
		w("| Measure | First third | Last third | |\n|---|---|---|---|\n")
		for _, r := range rows {
			v0, v1 := medianOf(first, r.f), medianOf(last, r.f)
			ok := v1 <= r.slack(v0)
			flat = flat && ok
			verdict := "flat"
			if !ok {
				verdict = "**grew**"
			}
			w("| %s | "+r.format+" | "+r.format+" | %s |\n", r.name, v0, v1, verdict)
		}
		if cfg.server != "" && cfg.serverPID > 0 {
			srss := func(p soakPoint) float64 { return mib(p.server.RSSKB) }
			w("| Server JVM RSS MiB (for reference) | %.0f | %.0f | |\n", medianOf(first, srss), medianOf(last, srss))
		}
		w("\n")
	} else {
		w("Too short to judge flatness (%d samples under load after the warm-up; need 6).\n\n", len(steady))
	}
	w("Workflows: %d started, %d completed, %d failed, %d still not completed at the end; %d start calls refused (server down).\n\n",
		started, done, fail, pend, tr.errs.Load())
	w("Second hand-outs (the server gave a task out again after its %v response timeout): %d whose first hand-out never reached the handler (the poll answer carrying it was cut by a restart: at-least-once delivery doing its job), %d whose handler ran twice (a result that did not reach the server in time: counted as lost).\n\n",
		soakResponseTimeout, tr.again1.Load(), twice)
	tr.mu.Lock()
	if len(tr.twiceIDs) > 0 {
		w("Ran twice (first %d): %s\n\n", len(tr.twiceIDs), strings.Join(tr.twiceIDs, ", "))
	}
	if len(tr.failIDs) > 0 {
		w("Failed workflows (first %d): %s\n\n", len(tr.failIDs), strings.Join(tr.failIDs, ", "))
	}
	tr.mu.Unlock()
	if failed != "" {
		w("**Run failed: %s**\n\n", failed)
	}
	ok := flat && lossOK && failed == ""
	w("**%s**: %s, %s.\n\n", map[bool]string{true: "PASS", false: "FAIL"}[ok],
		map[bool]string{true: "flat", false: "not flat"}[flat], map[bool]string{true: "nothing lost", false: "workflows lost or unfinished"}[lossOK])
	if len(rs) > 0 {
		w("## Restarts\n\n| At | Down for | |\n|---|---|---|\n")
		for _, r := range rs {
			w("| %v | %v | %s |\n", r.at.Round(time.Second), r.down.Round(time.Second), r.err)
		}
		w("\n")
	}
	w("## Samples\n\n| Time | Started | Completed | Completed in interval | Pending | Failed | Refused starts | Server up | RSS MiB | Heap MiB | Goroutines | Sockets | Worker CPU s |")
	if cfg.server != "" && cfg.serverPID > 0 {
		w(" Server RSS MiB | Server CPU s |")
	}
	w("\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	if cfg.server != "" && cfg.serverPID > 0 {
		w("---|---|")
	}
	w("\n")
	for _, p := range points {
		at := p.at.Round(time.Second).String()
		if p.draining {
			at += " (drain)"
		}
		w("| %s | %d | %d | %d | %d | %d | %d | %v | %.1f | %.1f | %d | %d | %.1f |", at, p.started, p.completed, p.completedInInterval,
			p.pending, p.failed, p.startErrs, map[bool]string{true: "yes", false: "**no**"}[p.up], float64(p.st.RSSKB)/1024,
			float64(p.st.HeapInuse)/(1<<20), p.st.Goroutines, p.st.Sockets, float64(p.st.CPUNanos)/1e9)
		if cfg.server != "" && cfg.serverPID > 0 {
			w(" %.0f | %.1f |", float64(p.server.RSSKB)/1024, float64(p.server.CPUNanos)/1e9)
		}
		w("\n")
	}
	return b.String(), ok
}
