package main

// Fleet mode (-fleet with -server): what a fleet of worker processes costs a
// real Conductor server. Each of N processes serves the same 51 task types,
// batch 1, as replicas of one service would: 50 that never get a task and
// one busy type that gets a steady trickle of workflows from the moment the
// processes start (the window measures a fleet that has run a while, as a
// production fleet has; only workflows started in it count). For each SDK in
// turn (Baton, the official Go SDK at its defaults), and once with no worker
// at all, the driver measures over a window:
//
//   - the server's busy request threads: Tomcat's tomcat_threads_busy_threads
//     from /actuator/prometheus, sampled every 500 ms (the server must run
//     with -Dserver.tomcat.mbeanregistry.enabled=true, which make bench-fleet
//     passes in CONDUCTOR_JAVA_OPTS), with the requests in flight
//     (http_server_requests_active_seconds_count, one of them the scrape) as
//     a cross-check. Conductor's controllers are synchronous, so a held poll
//     keeps its thread busy for as long as it is held;
//   - the server's CPU (utime+stime of the JVM from /proc/PID/stat over the
//     window, in cores) and its request rate by endpoint (from
//     http_server_requests_seconds_count);
//   - the latency of an unrelated read (GET /metadata/taskdefs/{name}, every
//     100 ms) and of starting a workflow (the busy type's POST /workflow);
//   - the pickup latency of the busy type: start call's return to handler.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type fleetPlan struct {
	sizes    []int
	idle     int           // idle task types per process
	rate     float64       // busy-type workflows started per second
	settle   time.Duration // after the processes start, before measuring
	window   time.Duration
	rounds   int
	interval time.Duration
	pid      int
	srvPIDs  []int // the JVM and its stores: the server CPU row
	runID    string
}

func defaultFleetPlan() fleetPlan {
	return fleetPlan{sizes: []int{5, 20, 50}, idle: 50, rate: 4, settle: 30 * time.Second, window: 20 * time.Second,
		rounds: 3, interval: 100 * time.Millisecond}
}

// Fleet metric keys.
const (
	fBusy      = "busy_threads"     // mean Tomcat busy threads
	fBusyMax   = "busy_threads_max" // highest sample
	fMaxThr    = "max_threads"      // Tomcat's pool size
	fActive    = "active_requests"  // mean requests in flight, the scrape excluded
	fCPU       = "server_cpu_cores" // server CPU over the window
	fReqRate   = "server_req_s"     // requests/s the server finished
	fPollRate  = "poll_req_s"       // … of them polls
	fSizesRate = "queue_sizes_req_s"
	fReadP50   = "read_p50_ms"
	fReadP90   = "read_p90_ms"
	fReadP99   = "read_p99_ms"
	fReadErrs  = "read_errors"
	fStartP50  = "start_p50_ms"
	fStartP90  = "start_p90_ms"
	fStartP99  = "start_p99_ms"
	fPickP50   = "pick_p50_ms"
	fPickP90   = "pick_p90_ms"
	fPickP99   = "pick_p99_ms"
	fPicked    = "picked"
	fLost      = "lost"
	fWorkerCPU = "worker_cpu_cores" // all the fleet's processes together
)

// promScrape is the part of /actuator/prometheus the fleet reads.
type promScrape struct {
	busy, maxThreads, active float64
	haveBusy                 bool
	byURI                    map[string]float64 // finished requests by uri label
}

func scrapeProm(ctx context.Context, hc *http.Client, base string) (promScrape, error) {
	u := strings.TrimSuffix(strings.TrimSuffix(base, "/"), "/api") + "/actuator/prometheus"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return promScrape{}, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return promScrape{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, res.Body)
		return promScrape{}, fmt.Errorf("%s: status %d", u, res.StatusCode)
	}
	ps := promScrape{byURI: map[string]float64{}}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		switch name {
		case "tomcat_threads_busy_threads":
			ps.busy += v
			ps.haveBusy = true
		case "tomcat_threads_config_max_threads":
			ps.maxThreads += v
		case "http_server_requests_active_seconds_count":
			ps.active += v
		case "http_server_requests_seconds_count":
			ps.byURI[promLabel(labels, "uri")] += v
		}
	}
	return ps, sc.Err()
}

func promLabel(labels, key string) string {
	i := strings.Index(labels, key+`="`)
	if i < 0 {
		return ""
	}
	rest := labels[i+len(key)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return rest
}

// uriRates turns two scrapes into requests/s: all, polls, queue sizes.
func uriRates(a, b promScrape, secs float64) (all, polls, sizes float64) {
	for uri, v := range b.byURI {
		d := (v - a.byURI[uri]) / secs
		if d <= 0 || strings.Contains(uri, "actuator") {
			continue
		}
		all += d
		switch {
		case strings.Contains(uri, "/tasks/poll"):
			polls += d
		case strings.Contains(uri, "/tasks/queue/sizes"):
			sizes += d
		}
	}
	return all, polls, sizes
}

func runFleetMain(ctx context.Context, rp realPlan, fp fleetPlan, args []string, out string) int {
	began := time.Now()
	fp.runID = fmt.Sprintf("%x", began.Unix()&0xffffff)
	s, err := newRealServer(rp.url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer s.close()
	logf := func(format string, args ...interface{}) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	logf("bench: fleet on %s (Conductor %s, %s), server pid %d, run %s", rp.url, rp.version, rp.store, fp.pid, fp.runID)
	if _, err := scrapeProm(ctx, s.hc, s.base); err != nil {
		// The dev server has none: the wiring can still be tried there.
		logf("bench: no server metrics (busy threads, request rates): %v", err)
	}
	fixed := "bench_" + fp.runID + "_fixed"
	if err := s.define(ctx, []string{fixed}); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer s.undefine([]string{fixed})
	// Warm the server up: a fresh JVM is slow for its first minute.
	if rp.warmup > 0 {
		if _, _, err := realWarmup(ctx, s, rp, logf); err != nil {
			fmt.Fprintln(os.Stderr, "bench: warm-up:", err)
			return 1
		}
	}
	res := realResults{}
	for r := 0; r < fp.rounds; r++ {
		smp, err := fleetRun(ctx, s, fp, contBaseline, 0, r, fixed)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: fleet round %d, no worker: %v\n", r+1, err)
			return 1
		}
		res.add("fleet0", contBaseline, smp)
		logf("fleet0   round %d %-8s %s", r+1, contBaseline, smp.String())
		for _, n := range fp.sizes {
			for _, c := range rotate([]string{contBaton, contOfficial}, r) {
				t := time.Now()
				smp, err := fleetRun(ctx, s, fp, c, n, r, fixed)
				if err != nil {
					fmt.Fprintf(os.Stderr, "bench: fleet %d round %d %s: %v\n", n, r+1, c, err)
					return 1
				}
				res.add(fmt.Sprintf("fleet%d", n), c, smp)
				logf("fleet%-3d round %d %-8s %5.1fs %s", n, r+1, c, time.Since(t).Seconds(), smp.String())
			}
		}
	}
	md := fleetReport(rp, fp, res, realCommand(args), began, time.Since(began))
	if out == "" {
		fmt.Print(md)
	} else if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fleetRun measures one fleet of n processes of contender (or none).
func fleetRun(ctx context.Context, s *realServer, fp fleetPlan, contender string, n, round int, fixed string) (sample, error) {
	out := sample{}
	var types []string
	var busy string
	var kids []*child
	var logs []*pickLog
	if contender != contBaseline {
		types = make([]string, fp.idle+1)
		for i := range types {
			types[i] = fmt.Sprintf("bench_%s_f%d_r%d_%s_%02d", fp.runID, n, round+1, contender, i)
		}
		busy = types[0]
		if err := s.define(ctx, types, busy); err != nil {
			return nil, err
		}
		defer s.undefine(types, busy)
		defer func() {
			for _, l := range logs {
				l.close()
			}
			var wg sync.WaitGroup
			for _, c := range kids {
				wg.Add(1)
				go func(c *child) { defer wg.Done(); c.stop() }(c)
			}
			wg.Wait()
		}()
		for i := 0; i < n; i++ {
			c, err := spawn(spawnOpts{contender: contender, url: s.base, types: types, batch: 1, interval: fp.interval, pickup: true})
			if err != nil {
				return nil, err
			}
			kids = append(kids, c)
			logs = append(logs, newPickLog(c))
		}
		for _, c := range kids {
			if err := c.send("go"); err != nil {
				return nil, err
			}
		}
	}
	// The busy type's workflows start as soon as the processes do, so that
	// the window measures a fleet that has run a while (a production fleet's
	// busy type has had tasks); only those started in the window count.
	var wg sync.WaitGroup
	trickle, stopTrickle := context.WithCancel(ctx) // ended early when the run fails before the window
	defer stopTrickle()
	settleEnd := time.Now().Add(fp.settle)
	var starts []float64
	ids := map[string]time.Time{}
	if busy != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(round)+21, uint64(n)))
			gap := time.Duration(float64(time.Second) / fp.rate)
			for time.Until(settleEnd) > -fp.window && trickle.Err() == nil {
				if sleepCtx(trickle, gap/2+time.Duration(rng.Int64N(int64(gap)))) != nil {
					return
				}
				t := time.Now()
				id, at, err := s.start(trickle, busy)
				if err != nil || t.Before(settleEnd) {
					continue
				}
				starts = append(starts, float64(at.Sub(t))/1e6)
				ids[id] = at
			}
		}()
	}
	if err := sleepCtx(ctx, time.Until(settleEnd)); err != nil {
		stopTrickle()
		wg.Wait()
		return nil, err
	}
	var wcpu0 int64
	for _, c := range kids {
		st, err := c.procStats()
		if err != nil {
			stopTrickle()
			wg.Wait()
			return nil, err
		}
		wcpu0 += st.CPUNanos
	}
	p0, _ := scrapeProm(ctx, s.hc, s.base)
	cpu0 := treeCPU(fp.srvPIDs...)
	t0 := time.Now()

	// Busy threads, every 500 ms.
	var busySmp, activeSmp []float64
	maxThreads := 0.0
	haveBusy := false
	wg.Add(1)
	go func() {
		defer wg.Done()
		for time.Since(t0) < fp.window && ctx.Err() == nil {
			if sleepCtx(ctx, 500*time.Millisecond) != nil {
				return
			}
			ps, err := scrapeProm(ctx, s.hc, s.base)
			if err != nil {
				continue
			}
			busySmp = append(busySmp, ps.busy)
			activeSmp = append(activeSmp, max(0, ps.active-1))
			maxThreads, haveBusy = ps.maxThreads, ps.haveBusy
		}
	}()
	reads, rerrs := measureReads(ctx, s, fixed, fp.window)
	wg.Wait()
	secs := time.Since(t0).Seconds()
	cpu1 := treeCPU(fp.srvPIDs...)
	p1, _ := scrapeProm(ctx, s.hc, s.base)
	var wcpu1 int64
	for _, c := range kids {
		st, err := c.procStats()
		if err != nil {
			return nil, err
		}
		wcpu1 += st.CPUNanos
	}
	if haveBusy {
		out[fBusy], out[fBusyMax], out[fMaxThr] = mean(busySmp), maxOf(busySmp), maxThreads
	}
	out[fActive] = mean(activeSmp)
	if len(fp.srvPIDs) > 0 {
		out[fCPU] = float64(cpu1-cpu0) / 1e9 / secs
	}
	out[fReqRate], out[fPollRate], out[fSizesRate] = uriRates(p0, p1, secs)
	out[fReadP50], out[fReadP90], out[fReadP99], out[fReadErrs] = quantile(reads, 0.5), quantile(reads, 0.9), quantile(reads, 0.99), float64(rerrs)
	if busy != "" {
		out[fWorkerCPU] = float64(wcpu1-wcpu0) / 1e9 / secs
		sort.Float64s(starts)
		out[fStartP50], out[fStartP90], out[fStartP99] = quantile(starts, 0.5), quantile(starts, 0.9), quantile(starts, 0.99)
		got := map[string]pickup{}
		deadline := time.Now().Add(10 * time.Second)
		for _, l := range logs {
			g, err := l.wait(ctx, ids, time.Now())
			if err != nil {
				return nil, err
			}
			for id, pk := range g {
				got[id] = pk
			}
		}
		for len(got) < len(ids) && time.Now().Before(deadline) {
			if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
				return nil, err
			}
			for _, l := range logs {
				g, _ := l.wait(ctx, ids, time.Now())
				for id, pk := range g {
					got[id] = pk
				}
			}
		}
		lats, _, _ := latencies(ids, got)
		out[fPickP50], out[fPickP90], out[fPickP99] = quantile(lats, 0.5), quantile(lats, 0.9), quantile(lats, 0.99)
		out[fPicked], out[fLost] = float64(len(got)), float64(len(ids)-len(got))
	}
	return out, nil
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// fleetReport is the Markdown section of one fleet run on one server.
func fleetReport(rp realPlan, fp fleetPlan, res realResults, cmd string, began time.Time, took time.Duration) string {
	var b strings.Builder
	w := func(format string, args ...interface{}) { fmt.Fprintf(&b, format, args...) }
	w("### Conductor %s (%s)\n\n", rp.version, rp.store)
	w("- Date: %s, took %v; machine: %s; load average %s at the end\n", began.UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second), machineInfo(), loadAvg())
	w("- Baton %s; official SDK %s\n", batonRevision(), officialVersion())
	w("- Command: `%s`\n", cmd)
	w("- CPUs: %s; server CPU is the JVM's and its store's (/proc utime+stime over the window)\n", rp.pin.describe())
	w("- Each process: %d idle task types + 1 busy one, batch 1, poll interval %v, SDK defaults otherwise; %.0f busy workflows/s started over the fleet from the moment the processes start (only those started in the window count); %v settle, %v window, %d rounds (order alternating), medians of rounds.\n\n",
		fp.idle, fp.interval, fp.rate, fp.settle, fp.window, fp.rounds)
	rows := []struct {
		label, key, format string
	}{
		{"Server busy request threads (mean)", fBusy, "%.1f"},
		{"… highest sample", fBusyMax, "%.0f"},
		{"Requests in flight (mean)", fActive, "%.1f"},
		{"Server CPU, cores", fCPU, "%.2f"},
		{"Server requests/s", fReqRate, "%.0f"},
		{"… polls/s", fPollRate, "%.0f"},
		{"… queue-size reads/s", fSizesRate, "%.1f"},
		{"Unrelated read p50 ms", fReadP50, "%.1f"},
		{"Unrelated read p99 ms", fReadP99, "%.1f"},
		{"Workflow start p50 ms", fStartP50, "%.1f"},
		{"Workflow start p99 ms", fStartP99, "%.1f"},
		{"Busy-type pickup p50 ms", fPickP50, "%.0f"},
		{"Busy-type pickup p90 ms", fPickP90, "%.0f"},
		{"Busy-type pickup p99 ms", fPickP99, "%.0f"},
		{"Busy tasks not picked up", fLost, "%.0f"},
		{"Fleet CPU (all processes), cores", fWorkerCPU, "%.2f"},
	}
	w("| | no worker |")
	for _, n := range fp.sizes {
		w(" %d × Baton | %d × official | official / Baton |", n, n)
	}
	w("\n|---|---|")
	for range fp.sizes {
		w("---|---|---|")
	}
	w("\n")
	for _, r := range rows {
		cell := func(sc, c string) string {
			v := values(res[sc][c], r.key)
			if len(v) == 0 {
				return "–"
			}
			return fmt.Sprintf(r.format, median(v))
		}
		w("| %s | %s |", r.label, cell("fleet0", contBaseline))
		for _, n := range fp.sizes {
			sc := fmt.Sprintf("fleet%d", n)
			bv, ov := res.med(sc, contBaton, r.key), res.med(sc, contOfficial, r.key)
			ratio := "–"
			if bv > 0 && len(values(res[sc][contBaton], r.key)) > 0 {
				ratio = fmt.Sprintf("%.2f", ov/bv)
			}
			w(" %s | %s | %s |", cell(sc, contBaton), cell(sc, contOfficial), ratio)
		}
		w("\n")
	}
	if mt := res.med("fleet0", contBaseline, fMaxThr); mt > 0 {
		w("\nTomcat's request-thread pool: %.0f threads.\n", mt)
	}
	w("\nPer round (busy threads, server CPU cores, read p50 ms, pickup p50 ms):\n\n")
	for _, n := range append([]int{0}, fp.sizes...) {
		sc := fmt.Sprintf("fleet%d", n)
		for _, c := range []string{contBaseline, contBaton, contOfficial} {
			smps := res[sc][c]
			if len(smps) == 0 {
				continue
			}
			var parts []string
			for _, s := range smps {
				parts = append(parts, fmt.Sprintf("%.1f/%.2f/%.1f/%.0f", s[fBusy], s[fCPU], s[fReadP50], s[fPickP50]))
			}
			w("- %d × %s: %s\n", n, contenderLabels[c], strings.Join(parts, ", "))
		}
	}
	w("\n")
	return b.String()
}
