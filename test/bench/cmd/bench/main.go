// Command bench measures Baton's TaskRunner against the official Go SDK
// (github.com/conductor-sdk/conductor-go v1.5.4) and against "the limit", a
// minimal hand-written poll/update loop, on the in-memory dev server, and
// writes BENCHMARKS.md and a chart.
//
//	cd test/bench && go run ./cmd/bench -out ../../BENCHMARKS.md -chart ../../docs/bench.png
//	go run ./cmd/bench -quick          # CI-sized run, under 2 minutes
//	go run ./cmd/bench -soak -soak-for 30m -soak-restart-every 8m -out ../../docs/soak-dev.md -chart ../../docs/soak-dev.png
//	                                   # the soak (make soak runs it on the dev server and on a real one)
//	go run ./cmd/bench -server http://127.0.0.1:PORT/api -out ../../BENCHMARKS.md \
//	    -chart ../../docs/bench-conductor.png -real-data ../../docs/bench-conductor
//	                                   # against a real Conductor server (make bench-conductor)
//
// The dev server runs inside this process (a fresh one per measured run);
// each contender runs in a child process (this binary re-executed with
// -contender), so its CPU time, memory and allocations are its own.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	contender := fs.String("contender", "", "internal: run as a contender child process (baton, official or limit)")
	var cc childConfig
	types := childFlags(fs, &cc)
	out := fs.String("out", "", "write the Markdown report here (default: stdout)")
	chart := fs.String("chart", "", "write the PNG chart here (default: none)")
	quick := fs.Bool("quick", false, "CI-sized run (under 2 minutes): fewer tasks, one round")
	soak := fs.Bool("soak", false, "run the soak test instead of the benchmarks")
	soakFor := fs.Duration("soak-for", 10*time.Minute, "soak duration")
	soakRate := fs.Int("soak-rate", 200, "soak load: workflows started per second")
	soakRestart := fs.Duration("soak-restart-every", 0, "soak: restart the server this often (0: never; a real server is killed and started again, the dev server goes down and up)")
	soakDown := fs.Duration("soak-down", 30*time.Second, "soak on the dev server: how long each restart keeps it down")
	soakDrain := fs.Duration("soak-drain", 5*time.Minute, "soak: after the load, the longest wait for the last workflows to complete")
	serverPID := fs.Int("server-pid", envInt("CONDUCTOR_SERVER_PID"), "soak on a real server: its process id, for restarts and its RSS and CPU (default $CONDUCTOR_SERVER_PID)")
	only := fs.String("only", "", "comma-separated scenarios to run (tput1,tput10,tput100,latency,idle,mixed,memory; with -server: tput,latency,idle,types)")
	rounds := fs.Int("rounds", 0, "rounds per scenario (0: 3, or 1 with -quick)")
	profDir := fs.String("profile-dir", "", "write CPU and allocation profiles of every contender run here")
	server := fs.String("server", "", "real-server mode: the base URL (…/api) of a Conductor server on this machine; \"env\" reads CONDUCTOR_SERVER_URL")
	serverVersion := fs.String("server-version", os.Getenv("CONDUCTOR_SERVER_VERSION"), "real-server mode: the server's version, for the report (default $CONDUCTOR_SERVER_VERSION)")
	serverStore := fs.String("server-store", os.Getenv("CONDUCTOR_SERVER_STORE"), "real-server mode: the server's store, for the report (default $CONDUCTOR_SERVER_STORE)")
	realData := fs.String("real-data", "", "real-server mode: directory of the per-server JSON results the report and chart are drawn from (default: none, report this run only)")
	smoke := fs.Bool("smoke", false, "real-server mode: a tiny run that only proves the wiring (about 2 minutes; not for the report)")
	tasks := fs.Int("tasks", 0, "real-server mode: workflows per throughput run at batch 10 and 100 (0: 2000, or fewer on a server that starts fewer than 250 workflows/s: about 8 s of starts; setting -tasks or -tasks1 turns that off)")
	tasks1 := fs.Int("tasks1", 0, "real-server mode: workflows per throughput run at batch 1 (0: 400)")
	samples := fs.Int("samples", 0, "real-server mode: isolated tasks per contender and round (0: 20)")
	isoWarm := fs.Int("iso-warm", -1, "with -server: isolated tasks per contender and latency round before the measured ones, not counted (default 10)")
	typeCounts := fs.String("types-n", "", "real-server mode: comma-separated N of the many-idle-types scenario (default 10,100,400)")
	warmup := fs.Duration("warmup", -1, "real-server mode: minimum warm-up before measuring (default 40s)")
	renderOnly := fs.Bool("render-only", false, "real-server mode: measure nothing, redraw the section of -out and the -chart from the JSON in -real-data")
	fleet := fs.Bool("fleet", false, "with -server: measure what fleets of worker processes cost the server (Baton vs the official SDK)")
	fleetN := fs.String("fleet-n", "5,20,50", "fleet mode: comma-separated fleet sizes (worker processes)")
	fleetIdle := fs.Int("fleet-idle", 50, "fleet mode: idle task types per process (besides the busy one)")
	fleetRate := fs.Float64("fleet-rate", 4, "fleet mode: busy-type workflows started per second")
	fleetFor := fs.Duration("fleet-for", 20*time.Second, "fleet mode: measuring window per fleet")
	fleetSettle := fs.Duration("fleet-settle", 30*time.Second, "fleet mode: wait after the processes start, before measuring")
	pin := fs.String("pin", "auto", "real-server mode: CPU pinning of the server (JVM and store) and the driver with its workers: auto (disjoint halves of the CPUs, when there are 2 or more and taskset is there), off, or SERVER/WORKER taskset lists such as 0/1")
	python := fs.String("python", "auto", "real-server mode: the official Python SDK ("+pythonSDK+") as a contender: auto (install it into a virtual environment under ~/.cache/baton, skip it with a note when that fails), on (fail instead), off")
	contList := fs.String("contenders", "", "real-server mode: comma-separated contenders instead of the default (baton,official,python,limit; baton-v2 is Baton with WithUpdateV2(true))")
	warmupMax := fs.Duration("warmup-max", 0, "real-server mode: the warm-up's cap (default 4m); it ends earlier once two consecutive warm-up runs agree within 10%")
	abBin := fs.String("ab", "", "A/B mode: compare this binary's Baton (A) with the Baton built into this other bench binary (B), the limit as yardstick; report to -out")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *contender != "" {
		cc.contender = *contender
		cc.types = strings.Split(*types, ",")
		return runChild(cc)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *soak {
		cfg := soakConfig{dur: *soakFor, rate: *soakRate, restartEvery: *soakRestart, downFor: *soakDown, drain: *soakDrain,
			server: *server, version: *serverVersion, store: *serverStore, out: *out, chart: *chart}
		if cfg.server == "env" {
			cfg.server = os.Getenv("CONDUCTOR_SERVER_URL")
		}
		if cfg.server != "" {
			cfg.serverPID = *serverPID
		}
		cfg.command = realCommand(args)
		return runSoak(ctx, cfg)
	}
	if *renderOnly {
		return renderReal(*out, *chart, *realData)
	}
	if *server != "" {
		rp := defaultRealPlan()
		if *smoke {
			rp = smokeRealPlan()
		}
		rp.url, rp.version, rp.store = *server, *serverVersion, *serverStore
		if rp.url == "env" {
			rp.url = os.Getenv("CONDUCTOR_SERVER_URL")
		}
		if rp.url == "" {
			fmt.Fprintln(os.Stderr, "bench: -server env, but CONDUCTOR_SERVER_URL is empty")
			return 2
		}
		if *rounds > 0 {
			rp.rounds = *rounds
		}
		if *tasks > 0 {
			rp.tputTasks, rp.autoSize = *tasks, false
		}
		if *tasks1 > 0 {
			rp.tputTasks1, rp.autoSize = *tasks1, false
		}
		if *samples > 0 {
			rp.isoSamples = *samples
		}
		if *isoWarm >= 0 {
			rp.isoWarm = *isoWarm
		}
		if *warmup >= 0 {
			rp.warmup = *warmup
		}
		if *warmupMax > 0 {
			rp.warmupMax = *warmupMax
		}
		rp.profDir = *profDir
		if rp.profDir != "" {
			if err := os.MkdirAll(rp.profDir, 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		rp.srvPIDs = serverPIDsFromEnv(*serverPID)
		pn, err := setupPinning(*pin, rp.srvPIDs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
		rp.pin = pn
		fmt.Fprintf(os.Stderr, "bench: CPU pinning: %s\n", pn.describe())
		if *typeCounts != "" {
			rp.typeCounts = nil
			for _, f := range strings.Split(*typeCounts, ",") {
				var n int
				if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 {
					fmt.Fprintf(os.Stderr, "bench: -types-n: bad count %q\n", f)
					return 2
				}
				rp.typeCounts = append(rp.typeCounts, n)
			}
		}
		if *only != "" {
			rp.only = map[string]bool{}
			for _, s := range strings.Split(*only, ",") {
				rp.only[strings.TrimSpace(s)] = true
			}
		}
		if *fleet {
			fp := defaultFleetPlan()
			fp.idle, fp.rate, fp.window, fp.settle, fp.pid = *fleetIdle, *fleetRate, *fleetFor, *fleetSettle, *serverPID
			fp.srvPIDs = rp.srvPIDs
			if *rounds > 0 {
				fp.rounds = *rounds
			}
			fp.sizes = nil
			for _, f := range strings.Split(*fleetN, ",") {
				var n int
				if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 {
					fmt.Fprintf(os.Stderr, "bench: -fleet-n: bad size %q\n", f)
					return 2
				}
				fp.sizes = append(fp.sizes, n)
			}
			if *warmup < 0 {
				rp.warmup = 30 * time.Second
			}
			return runFleetMain(ctx, rp, fp, args, *out)
		}
		switch *python {
		case "off":
		case "auto", "on":
			env, err := ensurePython("", func(f string, a ...interface{}) { fmt.Fprintf(os.Stderr, "bench: "+f+"\n", a...) })
			if err != nil {
				if *python == "on" {
					fmt.Fprintln(os.Stderr, "bench: -python on:", err)
					return 1
				}
				fmt.Fprintln(os.Stderr, "bench: the official Python SDK is left out:", err)
				break
			}
			rp.py = &env
			rp.contenders = append([]string{contBaton, contOfficial, contPython}, contLimit)
		default:
			fmt.Fprintf(os.Stderr, "bench: -python must be auto, on or off, got %q\n", *python)
			return 2
		}
		if *contList != "" {
			rp.contenders = nil
			for _, c := range strings.Split(*contList, ",") {
				c = strings.TrimSpace(c)
				switch c {
				case contBaton, contOfficial, contLimit, contBatonV2:
				case contPython:
					if rp.py == nil {
						fmt.Fprintln(os.Stderr, "bench: -contenders names python, but the Python SDK is not available (-python)")
						return 2
					}
				default:
					fmt.Fprintf(os.Stderr, "bench: -contenders: unknown contender %q\n", c)
					return 2
				}
				rp.contenders = append(rp.contenders, c)
			}
		}
		return realServerMain(ctx, rp, args, *out, *chart, *realData)
	}
	p := fullPlan()
	mode := "full"
	if *quick {
		p = quickPlan()
		mode = "quick"
	}
	if *abBin != "" {
		if _, err := os.Stat(*abBin); err != nil {
			fmt.Fprintf(os.Stderr, "bench: -ab must name a bench binary: %v\n", err)
			return 2
		}
		p.binB = *abBin
		p.contenders = []string{contBaton, contBatonB, contLimit}
		// A patch is usually worth a few percent: more rounds than the
		// three that suffice against the official SDK.
		p.rounds = max(p.rounds, 5)
	}
	if *rounds > 0 {
		p.rounds, p.latRounds, p.idleRounds = *rounds, *rounds, *rounds
	}
	p.profDir = *profDir
	if *only != "" {
		p.onlyScenarios = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			p.onlyScenarios[strings.TrimSpace(s)] = true
		}
	}
	if p.profDir != "" {
		if err := os.MkdirAll(p.profDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	began := time.Now()
	res, err := runAll(ctx, p, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	elapsed := time.Since(began)
	cmdline := "go run ./cmd/bench " + strings.Join(args, " ")
	var md string
	if p.binB != "" {
		md = abReport(res, p, cmdline, began, elapsed)
	} else {
		md = report(res, p, mode, cmdline, began, elapsed, *chart)
	}
	if *out != "" && p.binB == "" {
		// The real-server section is make bench-conductor's; keep it.
		if kept := keptRealSection(*out); kept != "" {
			md = replaceRealSection(md, kept)
		}
	}
	if *out == "" {
		fmt.Print(md)
	} else if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *chart != "" && p.binB == "" {
		if err := drawChart(res, *chart); err != nil {
			fmt.Fprintln(os.Stderr, "bench: chart:", err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "bench: done in %v\n", elapsed.Round(time.Second))
	return 0
}

// envInt is the integer in the environment variable name, or 0.
func envInt(name string) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil {
		return 0
	}
	return n
}

func fullPlan() plan {
	return plan{rounds: 3, tputTasks: 10000, tputTasksBig: 20000, tputCap: 8 * time.Second, latSamples: 50, latRounds: 2,
		idleFor: 12 * time.Second, idleRounds: 2, mixedTasks: 5000, memTypes: 100, memTasks: 10000, memBatch: 10,
		interval: 100 * time.Millisecond}
}

func quickPlan() plan {
	return plan{rounds: 1, tputTasks: 2000, tputTasksBig: 4000, tputCap: 5 * time.Second, latSamples: 20, latRounds: 1,
		idleFor: 8 * time.Second, idleRounds: 1, mixedTasks: 1000, memTypes: 100, memTasks: 2000, memBatch: 10,
		interval: 100 * time.Millisecond}
}

// realServerMain runs the real-server benchmarks against one server and writes
// its results (JSON), the real-server section of the report and the chart.
func realServerMain(ctx context.Context, rp realPlan, args []string, out, chart, dataDir string) int {
	if rp.version == "" {
		rp.version = "unknown"
	}
	if rp.store == "" {
		rp.store = "unknown"
	}
	began := time.Now()
	load0 := loadAvg()
	rp.runID = fmt.Sprintf("%x", began.Unix()&0xffffff)
	fmt.Fprintf(os.Stderr, "bench: real server %s (Conductor %s, %s), run %s\n", rp.url, rp.version, rp.store, rp.runID)
	res, warm, err := runReal(ctx, rp, os.Stderr, &rp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	elapsed := time.Since(began)
	run := realRun{Version: rp.version, Store: rp.store, Date: began.UTC(), Elapsed: elapsed.Round(time.Second).String(),
		Baton: batonRevision(), Official: officialVersion(), Machine: machineInfo(),
		Command: realCommand(args), Plan: rp.doc(), Results: res,
		WarmupTook: warm.Round(time.Second).String(), Load: fmt.Sprintf("%s at the start, %s at the end", load0, loadAvg()),
		Pinning: rp.pin.describe()}
	if rp.py != nil {
		run.Python = rp.py.sdk
	}
	if dataDir == "" {
		if rc := writeReal([]realRun{run}, out, chart); rc != 0 {
			return rc
		}
	} else {
		if err := saveRealRun(dataDir, run); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		if rc := renderReal(out, chart, dataDir); rc != 0 {
			return rc
		}
	}
	fmt.Fprintf(os.Stderr, "bench: real server done in %v\n", elapsed.Round(time.Second))
	return 0
}

// renderReal draws the real-server section and chart from every run in dataDir.
func renderReal(out, chart, dataDir string) int {
	if dataDir == "" {
		fmt.Fprintln(os.Stderr, "bench: -render-only needs -real-data")
		return 2
	}
	runs, err := loadRealRuns(dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return writeReal(runs, out, chart)
}

// writeReal writes the real-server section into out (stdout if "") and the chart.
func writeReal(runs []realRun, out, chart string) int {
	chartRef := ""
	if chart != "" {
		if err := drawRealChart(runs, chart); err != nil {
			fmt.Fprintln(os.Stderr, "bench: chart:", err)
			return 1
		}
		// The report sits in the repository root, the chart under docs/.
		chartRef = "docs/" + filepath.Base(chart)
	}
	section := realSection(runs, chartRef)
	if out == "" {
		fmt.Print(section)
		return 0
	}
	doc, _ := os.ReadFile(out)
	if err := os.WriteFile(out, []byte(replaceRealSection(string(doc), section)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// realCommand is the command line for the report; under test/conductor/run.sh
// (make bench-conductor) it names that wrapper too, since the port in
// -server is the one run.sh chose.
func realCommand(args []string) string {
	cmd := "cd test/bench && go run ./cmd/bench " + strings.Join(args, " ")
	if v := os.Getenv("CONDUCTOR_VERSION"); v != "" {
		return fmt.Sprintf("CONDUCTOR_VERSION=%s CONDUCTOR_STORE=%s test/conductor/run.sh sh -c '%s'", v, os.Getenv("CONDUCTOR_STORE"), cmd)
	}
	return cmd
}
