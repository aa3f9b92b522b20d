// Command bench measures Baton's TaskRunner against the official Go SDK
// (github.com/conductor-sdk/conductor-go v1.5.4) and against "the limit", a
// minimal hand-written poll/update loop, on the in-memory dev server, and
// writes BENCHMARKS.md and a chart.
//
//	cd test/bench && go run ./cmd/bench -out ../../BENCHMARKS.md -chart ../../docs/bench.png
//	go run ./cmd/bench -quick          # CI-sized run, under 2 minutes
//	go run ./cmd/bench -soak -soak-for 10m -out SOAK.md
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
	only := fs.String("only", "", "comma-separated scenarios to run (tput1,tput10,tput100,latency,idle,mixed,memory)")
	rounds := fs.Int("rounds", 0, "rounds per scenario (0: 3, or 1 with -quick)")
	profDir := fs.String("profile-dir", "", "write CPU and allocation profiles of every contender run here")
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
		return runSoak(ctx, *soakFor, *soakRate, *out)
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
