package main

// The real-server report: each driver run against one server writes its
// results as JSON (one file per server version and store, replaced by the
// next run against the same pair), and then the real-server section of
// BENCHMARKS.md and its chart are drawn again from every JSON file present,
// so the section shows all servers measured so far, each with its own date,
// command and Baton commit. `make bench` (the dev-server report) rewrites
// BENCHMARKS.md but carries this section over unchanged.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

const (
	realBegin = "<!-- real-server section: written by `make bench-conductor` (test/bench -server); make bench keeps it -->"
	realEnd   = "<!-- end of real-server section -->"
)

// analysisRealFile is the hand-written part of the real-server section,
// relative to test/bench (where make bench-conductor runs the driver).
const analysisRealFile = "analysis-real.md"

func realDataFile(dir, version, store string) string {
	return filepath.Join(dir, fmt.Sprintf("conductor-%s-%s.json", version, store))
}

func saveRealRun(dir string, run realRun) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(realDataFile(dir, run.Version, run.Store), append(b, '\n'), 0o644)
}

// loadRealRuns reads every run in dir, oldest server version first.
func loadRealRuns(dir string) ([]realRun, error) {
	files, err := filepath.Glob(filepath.Join(dir, "conductor-*.json"))
	if err != nil {
		return nil, err
	}
	var runs []realRun
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r realRun
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool {
		if runs[i].Version != runs[j].Version {
			return versionLess(runs[i].Version, runs[j].Version)
		}
		return runs[i].Store > runs[j].Store // sqlite before redis
	})
	return runs, nil
}

// versionLess compares dotted numeric versions (3.21.14 < 3.32.3).
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		_, errX := fmt.Sscan(pa[i], &x)
		_, errY := fmt.Sscan(pb[i], &y)
		if errX != nil || errY != nil {
			if pa[i] != pb[i] {
				return pa[i] < pb[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// realContenders are the throughput contenders run r measured, in report
// order (the Python SDK only in runs that had it).
func realContenders(r realRun) []string {
	out := []string{contBaton, contOfficial}
	for _, c := range []string{contPython, contLimit, contBatonV2} {
		for _, sc := range []string{"tput1", "tput10", "tput100", "latency", "idle"} {
			if _, ok := r.Results[sc][c]; ok {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// realHeader is a table header: the leading columns, one per contender,
// then Baton's ratio to each other contender.
func realHeader(lead []string, conts []string) string {
	cols := append([]string(nil), lead...)
	for _, c := range conts {
		cols = append(cols, realLabel(c))
	}
	for _, c := range conts[1:] {
		cols = append(cols, "Baton / "+realLabel(c))
	}
	return "| " + strings.Join(cols, " | ") + " |\n|" + strings.Repeat("---|", len(cols)) + "\n"
}

func realLabel(c string) string {
	switch c {
	case contBaton:
		return "Baton"
	case contOfficial:
		return "Official Go"
	case contPython:
		return "Official Python"
	case contLimit:
		return "Limit"
	case contBatonV2:
		return "Baton update-v2"
	}
	return c
}

// realCells are one row's cells after the leading ones.
func realCells(res realResults, sc string, m metricDef, conts []string) string {
	var cells []string
	for _, c := range conts {
		cells = append(cells, spreadKey(res[sc][c], m.key, m.format))
	}
	bm := res.med(sc, contBaton, m.key)
	for _, c := range conts[1:] {
		cells = append(cells, ratio(bm, res.med(sc, c, m.key)))
	}
	return strings.Join(cells, " | ")
}

func (r realRun) server() string { return fmt.Sprintf("Conductor %s (%s)", r.Version, r.Store) }

// spreadKey is min / **median** / max of one metric over rounds.
func spreadKey(ss []sample, key, format string) string {
	return spread(ss, metricDef{key: key, format: format})
}

// realSection renders the whole real-server section from every run.
func realSection(runs []realRun, chart string) string {
	var b strings.Builder
	w := func(format string, args ...interface{}) { fmt.Fprintf(&b, format, args...) }
	w("%s\n\n# Against real Conductor OSS servers\n\n", realBegin)
	w("The contenders as above (Baton's `worker.TaskRunner` with its default poll settings, the official Go SDK's `worker.TaskRunner`, ")
	w("and the limit), as the same child processes, plus the official Python SDK (conductor-python, pinned, installed by the driver into a virtual environment; see below), ")
	w("against a real Conductor OSS server started by `test/conductor/run.sh` on this machine. ")
	w("One table group per server version and store; each says when it was measured, with which command and which Baton commit. ")
	w("**This machine has 2 cores shared with the server (a JVM), the driver and, during these runs, other engineers' jobs: the figures are noisy; ")
	w("only ratios from the same run (contenders alternating within each round, medians of the rounds) are worth comparing.** ")
	w("Runs that say *CPUs: pinned* kept the server and the worker on separate cores (below), which keeps one's cost out of the other's figures; ")
	w("*requests/task* and *server CPU µs/task* depend least on noise. ")
	w("Regenerate with `make bench-conductor` (all three servers in turn; on this machine 10 to 20 minutes each, SQLite the slowest) or, against a server you started, ")
	w("`cd test/bench && go run ./cmd/bench -server http://127.0.0.1:PORT/api -server-version X -server-store Y -out ../../BENCHMARKS.md -chart ../../docs/bench-conductor.png -real-data ../../docs/bench-conductor` (`-rounds`, `-tasks`, `-tasks1`, `-samples`, `-types-n`, `-warmup`, `-warmup-max` and `-only tput,latency,idle,types` shorten a run; `-render-only` redraws this section and the chart from the JSON files in docs/bench-conductor/).\n\n")
	if chart != "" {
		w("![real-server throughput, pickup and reads](%s)\n\n", chart)
	}
	w("## How the real-server scenarios are measured\n\n")
	w("- **Set-up.** Every measured run registers its own SIMPLE task definition (owner `bench@example.com`) and a one-task workflow, named after the driver run, scenario, round and contender, ")
	w("and deletes both afterwards, so tasks left in a queue by one run never feed another. Workflows are started with `POST /api/workflow` from the driver.\n")
	w("- **CPU pinning** (`-pin auto`, the default of `make bench-conductor`; `BENCH_PIN=off` turns it off, `BENCH_PIN=0/1` names the sets): when the machine has 2 or more CPUs and `taskset` is there, ")
	w("the driver puts the server's processes (the JVM, `CONDUCTOR_SERVER_PID`, and its store, `CONDUCTOR_STORE_PIDS`: Redis, PostgreSQL; every thread and every child process) on the first half of the CPUs, ")
	w("and itself (with its counting proxy) on the other half, which every worker process it starts inherits. On this 2-core machine: server on CPU 0, driver and worker on CPU 1. Each run's *CPUs* line says what was done.\n")
	w("- **Warm-up, decided by measurement.** Before anything is measured the limit loop drains batches of up to 500 workflows (batch 10) until two consecutive warm-up runs agree on the throughput within 10%%, ")
	w("and the minimum warm-up time (`-warmup`) has passed, or the cap (`-warmup-max`, 4 min) is reached (a fresh server is slow for its first minutes: class loading, JIT). Each run lists the warm-up runs' rates.\n")
	w("- **Rounds.** Every scenario runs in 3 rounds (or `-rounds`), the contenders in a different order in each round (each goes first once); tables show min / **median** / max over the rounds.\n")
	w("- **Server CPU per task**: the JVM's and its store's CPU time (user + system from /proc, the whole process trees) over a throughput run, divided by its tasks. ")
	w("*Worker CPU per task*: the worker process's (getrusage in a Go worker; for the Python SDK, its whole process tree from /proc, since it runs one process per task type).\n")
	w("- **Throughput** (batch 1, 10, 100): the workflows are **pre-started before the worker starts** (8 concurrent start calls), so the figure is the worker's drain rate and not the starter's rate; ")
	w("the clock starts at the worker's first poll (the Python SDK spends a second or two spawning its worker processes after it is told to start; that is not a per-task cost); ")
	w("a steady start rate would cap every contender at that rate. The clock runs from the worker's start until the server has acknowledged (2xx) one task update per workflow, ")
	w("counted by a small reverse proxy in the driver (`net/http/httputil`) that every contender talks to; the proxy's cost is the same for all. ")
	w("*HTTP requests/task* = the poll and update requests the proxy forwarded / tasks (an update-v2, which updates and hands back the next task, is one request). Each run is capped in time; a capped run's rate is over the cap.\n")
	w("- **Pickup latency** (batch 10, poll interval 100 ms, defaults otherwise): in each round all contenders run at the same time, one worker process each on its own task type, ")
	w("so they meet the same server and the same machine load. After 2 s each gets 10 isolated tasks that are not counted (`-iso-warm`), as a process that has run a while has had: Baton's runner learns from tasks queued during its held polls whether this server wakes them (sdk/worker's scheduler). Then their polls are counted at the proxy, by task type, over an idle window: ")
	w("*idle polls/s per poller* (one poller = one `StartWorker` call, or the limit's one loop). Then *isolated* tasks: every 0.7–1.3 s (random, the same sequence in every run) ")
	w("one workflow per contender is started, in turn, a third of that gap apart, whether or not the previous one was picked up ")
	w("(a worker slower than one task a second sees its tasks queue, as it would in production); each contender's stragglers get 15 s after the last start. ")
	w("Then, one contender at a time, *bursts*: workflows started at once (one concurrent start call each), 1.5 s after the previous burst was picked up. ")
	w("Pickup = from the moment the start call returned in the driver to the handler's first line in the worker (the worker reports the workflow id and its clock; one machine, one clock). ")
	w("A handler that ran before the start call's answer arrived counts as 0 ms (row *early*). The isolated p50 is also given from the task's `scheduledTime` (server clock, ms). ")
	w("Against a real server the limit polls with timeout 0 for as many tasks as it has free slots and sleeps the poll interval after an empty answer: real servers hold a poll for a partial batch until its timeout ends, so this is the least a worker can do there (the in-memory benchmark's limit long-polls with a %v timeout instead).\n", limitPollTimeout)
	w("- **Idle worker**: one worker process alone, one task type (batch 10, 100 ms interval) that never gets a task; after 2 s, over 6 s: the server's CPU (JVM + store), the worker's CPU and its polls. ")
	w("*No worker* is the same window without one.\n")
	w("- **Many idle task types**: one worker process serving N task types (batch 1, 100 ms interval) of which only the first ever gets a task, talking straight to the server (no proxy); ")
	w("after it settles, for a fixed window, the driver reads one fixed task definition (`GET /api/metadata/taskdefs/{name}`, one every 100 ms, or right after the previous one when that was slower) ")
	w("and starts a single workflow of the busy type every 0.5–1.5 s, whose pickup it measures (stragglers get 5 s after the window). ")
	w("*No worker* is the same read against the idle server, once per round. Baton and the official SDK only, alternating; the limit is not a product.\n\n")
	// The hand-written part (how each SDK polls, where the time goes),
	// beside the driver.
	if b, err := os.ReadFile(analysisRealFile); err == nil {
		w("%s\n", strings.TrimSpace(string(b)))
		w("\n")
	}
	for _, r := range runs {
		realRunTables(w, r)
	}
	w("%s\n", realEnd)
	return b.String()
}

func realRunTables(w func(string, ...interface{}), r realRun) {
	srv := r.server()
	short := fmt.Sprintf("%s %s", r.Version, r.Store)
	res := r.Results
	w("## %s\n\n", srv)
	w("- Server: Conductor OSS %s boot jar, store: %s, on 127.0.0.1 (this machine)\n", r.Version, r.Store)
	w("- Date: %s (run took %s; warm-up %s)\n", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed, r.WarmupTook)
	w("- Baton: %s; official Go SDK %s", r.Baton, r.Official)
	if r.Python != "" {
		w("; official Python SDK %s", r.Python)
	}
	w("\n")
	if r.Pinning != "" {
		w("- CPUs: %s\n", r.Pinning)
	}
	w("- Machine: %s", r.Machine)
	if r.Load != "" {
		w("; load average (1, 5, 15 min) %s", r.Load)
	}
	w("\n")
	w("- Command: `%s`\n", r.Command)
	pd := r.Plan
	w("- Plan: %d rounds; throughput %d workflows at batch 1, %d at batch 10 and 100 (cap %s); %d isolated tasks and %d bursts of %d per contender and round, idle window %s; ",
		pd.Rounds, pd.TputTasks1, pd.TputTasks, pd.TputCap, pd.IsoSamples, pd.Bursts, pd.BurstSize, pd.IdleWindow)
	w("many-types N = %v, settle %s, window %s; poll interval %s", pd.TypeCounts, pd.TypesSettle, pd.TypesFor, pd.Interval)
	if len(pd.WarmupTPS) > 0 {
		tps := make([]string, len(pd.WarmupTPS))
		for i, v := range pd.WarmupTPS {
			tps[i] = fmt.Sprintf("%.0f", v)
		}
		w("; warm-up runs (limit, batch 10, tasks/s): %s (until two in a row agree within %.0f%%, cap %s)", strings.Join(tps, ", "), pd.WarmupAgree*100, pd.WarmupMax)
	}
	if pd.StartRate > 0 {
		w("; the warm-up's last pre-start ran at %.0f workflows/s", pd.StartRate)
		if pd.AutoSized {
			w(" and the throughput runs were sized to about 8 s of starts from it (at most 2000 / 400)")
		}
	}
	w("\n\n")

	has := func(sc string) bool { _, ok := res[sc]; return ok }
	conts := realContenders(r)
	if has("tput1") || has("tput10") || has("tput100") {
		w("### Throughput, %s (min / **median** / max over rounds)\n\n", srv)
		w("%s", realHeader([]string{"Server", "Batch", "Metric"}, conts))
		for _, batch := range []int{1, 10, 100} {
			sc := fmt.Sprintf("tput%d", batch)
			if !has(sc) {
				continue
			}
			for _, m := range []metricDef{defTPS, {mReqPerTask, "HTTP requests/task (proxy count)", "%.2f", false}, defCPUTask,
				{mSrvCPU, "server CPU µs/task (JVM + store)", "%.0f", false}} {
				if len(values(res[sc][contBaton], m.key)) == 0 {
					continue
				}
				w("| %s | %d | %s | %s |\n", short, batch, m.label, realCells(res, sc, m, conts))
			}
		}
		var capped []string
		for _, batch := range []int{1, 10, 100} {
			sc := fmt.Sprintf("tput%d", batch)
			for _, c := range conts {
				for i, s := range res[sc][c] {
					if s[mCapped] == 1 {
						capped = append(capped, fmt.Sprintf("batch %d, %s, round %d: %.0f tasks by the %s cap", batch, c, i+1, s[mDone], pd.TputCap))
					}
				}
			}
		}
		if len(capped) > 0 {
			w("\nCapped runs (%s): %s.\n", srv, strings.Join(capped, "; "))
		}
		w("\n")
	}
	if has("latency") {
		sc := "latency"
		w("### Pickup latency and idle polling, %s (batch 10, 100 ms interval; min / **median** / max over rounds)\n\n", srv)
		lconts := withoutV2(conts)
		w("%s", realHeader([]string{"Server", "Metric"}, lconts))
		rows := []metricDef{
			{mIsoP50, "isolated pickup p50 ms", "%.1f", false}, {mIsoP90, "isolated pickup p90 ms", "%.1f", false}, {mIsoP99, "isolated pickup p99 ms", "%.1f", false},
			{mIsoSchP50, "isolated pickup p50 ms from scheduledTime", "%.1f", false},
			{mBurstP50, "burst pickup p50 ms", "%.1f", false}, {mBurstP90, "burst pickup p90 ms", "%.1f", false}, {mBurstP99, "burst pickup p99 ms", "%.1f", false},
			{mIdleRPS, "idle polls/s per poller (proxy count)", "%.2f", false},
			{mIsoLost, "isolated tasks not picked up", "%.0f", false}, {mBurstLost, "burst tasks not picked up in 30 s", "%.0f", false},
			{mEarly, "early (handler before the start call returned)", "%.0f", false},
		}
		for _, m := range rows {
			w("| %s | %s | %s |\n", short, m.label, realCells(res, sc, m, lconts))
		}
		w("\n")
	}
	if has("idle") {
		w("### Idle worker, %s (one process alone, 1 task type, batch 10, 100 ms interval, no task; min / **median** / max over rounds)\n\n", srv)
		w("%s", realHeader([]string{"Server", "Metric"}, withoutV2(conts)))
		for _, m := range []metricDef{{mIdleSrvCPU, "server CPU ms per second of idling (JVM + store)", "%.1f", false},
			{mIdleWrkCPU, "worker CPU ms per second of idling", "%.1f", false}, {mIdleRPS, "polls/s (proxy count)", "%.2f", false}} {
			w("| %s | %s | %s |\n", short, m.label, realCells(res, "idle", m, withoutV2(conts)))
		}
		if b := res["idle"][contBaseline]; len(b) > 0 {
			w("\nNo worker at all: server CPU %s ms per second.\n", spreadKey(b, mIdleSrvCPU, "%.1f"))
		}
		w("\n")
	}
	var typeKeys []int
	for _, n := range pd.TypeCounts {
		if has(fmt.Sprintf("types%d", n)) {
			typeKeys = append(typeKeys, n)
		}
	}
	if len(typeKeys) > 0 {
		w("### Many idle task types, %s (batch 1, 100 ms interval; min / **median** / max over rounds)\n\n", srv)
		w("| Server | N types | Metric | No worker | Baton | Official | Baton / official |\n|---|---|---|---|---|---|---|\n")
		for _, n := range typeKeys {
			sc := fmt.Sprintf("types%d", n)
			for _, m := range []metricDef{
				{mReadP50, "read p50 ms", "%.1f", false}, {mReadP90, "read p90 ms", "%.1f", false},
				{mReads, "reads done in the window", "%.0f", true}, {mReadErrs, "failed reads", "%.0f", false},
				{mBusyP50, "busy-type pickup p50 ms", "%.1f", false}, {mBusyN, "busy-type tasks picked up", "%.0f", true},
				{mBusyLost, "busy-type tasks not picked up", "%.0f", false},
			} {
				base := "–"
				if m.key == mReadP50 || m.key == mReadP90 || m.key == mReads || m.key == mReadErrs {
					base = spreadKey(res["types0"][contBaseline], m.key, m.format)
				}
				w("| %s | %d | %s | %s | %s | %s | %s |\n", short, n, m.label, base,
					spreadKey(res[sc][contBaton], m.key, m.format), spreadKey(res[sc][contOfficial], m.key, m.format),
					ratio(res.med(sc, contBaton, m.key), res.med(sc, contOfficial, m.key)))
			}
		}
		w("\n")
	}
}

// replaceRealSection puts section into the existing Markdown in place of
// the old real-server section, or at its end.
func replaceRealSection(doc, section string) string {
	i := strings.Index(doc, realBegin)
	j := strings.Index(doc, realEnd)
	if i >= 0 && j > i {
		return doc[:i] + section + doc[j+len(realEnd)+1:]
	}
	if doc != "" && !strings.HasSuffix(doc, "\n\n") {
		doc = strings.TrimRight(doc, "\n") + "\n\n"
	}
	return doc + section
}

// keptRealSection returns the real-server section of the file at path, if
// any (for make bench, which rewrites the rest).
func keptRealSection(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	doc := string(b)
	i := strings.Index(doc, realBegin)
	j := strings.Index(doc, realEnd)
	if i < 0 || j < i {
		return ""
	}
	return doc[i : j+len(realEnd)+1]
}

// realChartContenders are the contenders of every run drawn.
func realChartContenders(runs []realRun) []string {
	for _, r := range runs {
		if c := realContenders(r); len(c) >= 4 {
			return c[:4]
		}
	}
	return contenders
}

// drawRealChart draws, for every server measured: throughput at each batch
// size, the isolated-task pickup p50, and the p90 of the unrelated read with
// the largest number of idle task types.
func drawRealChart(runs []realRun, path string) error {
	if len(runs) == 0 {
		return fmt.Errorf("no real-server results to draw")
	}
	label := func(r realRun) string {
		v := r.Version
		if parts := strings.Split(v, "."); len(parts) >= 2 {
			v = parts[0] + "." + parts[1]
		}
		return v + " " + r.Store
	}
	var plots []*plot.Plot
	type cell struct {
		run realRun
		sc  string
	}
	var tg []string
	var tc []cell
	for _, r := range runs {
		for _, batch := range []int{1, 10, 100} {
			sc := fmt.Sprintf("tput%d", batch)
			if _, ok := r.Results[sc]; ok {
				tg = append(tg, fmt.Sprintf("%s\nb%d", label(r), batch))
				tc = append(tc, cell{r, sc})
			}
		}
	}
	if len(tg) > 0 {
		p, err := groupedBarsOf(realChartContenders(runs), "Real server: throughput, medians (higher is better)", "tasks/s", "%.0f", tg, func(g int, c string) float64 {
			return tc[g].run.Results.med(tc[g].sc, c, mTPS)
		})
		if err != nil {
			return err
		}
		plots = append(plots, p)
	}
	var lg []string
	var lc []realRun
	for _, r := range runs {
		if _, ok := r.Results["latency"]; ok {
			lg = append(lg, label(r))
			lc = append(lc, r)
		}
	}
	if len(lg) > 0 {
		p, err := groupedBarsOf(realChartContenders(runs), "Isolated-task pickup p50, ms (lower is better)", "ms", "%.0f", lg, func(g int, c string) float64 {
			return lc[g].Results.med("latency", c, mIsoP50)
		})
		if err != nil {
			return err
		}
		plots = append(plots, p)
	}
	var rg []string
	var rc []cell
	for _, r := range runs {
		n := 0
		for _, k := range r.Plan.TypeCounts {
			if _, ok := r.Results[fmt.Sprintf("types%d", k)]; ok {
				n = max(n, k)
			}
		}
		if n > 0 {
			rg = append(rg, fmt.Sprintf("%s\n%d types", label(r), n))
			rc = append(rc, cell{r, fmt.Sprintf("types%d", n)})
		}
	}
	if len(rg) > 0 {
		p, err := groupedBarsOf([]string{contBaseline, contBaton, contOfficial}, "Unrelated read p90 beside idle types, ms (lower is better)", "ms", "%.0f", rg, func(g int, c string) float64 {
			sc := rc[g].sc
			if c == contBaseline {
				sc = "types0"
			}
			return rc[g].run.Results.med(sc, c, mReadP90)
		})
		if err != nil {
			return err
		}
		plots = append(plots, p)
	}
	width, height := vg.Points(max(600, 60*float64(len(tg)+2))), vg.Points(360*float64(len(plots)))
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Points(20), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	for _, p := range plots {
		// Room above the tallest bar for its label and the legend.
		p.Y.Max *= 1.25
	}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
	return savePNG(img, path)
}
