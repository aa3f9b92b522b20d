package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
)

// Soak settings: a Baton worker process serving a few task types under a
// steady load, sampled every soakSampleEvery. Only the worker's process is
// judged: the dev server keeps state per task, so its memory would grow
// whatever the worker does (completed workflows are removed to slow that).
const (
	soakTypes       = 4
	soakBatch       = 10
	soakSampleEvery = 10 * time.Second
	soakWarmup      = time.Minute
)

type soakPoint struct {
	at        time.Duration
	completed int64
	st        procStats
}

func runSoak(ctx context.Context, dur time.Duration, rate int, out string) int {
	if rate < 1 {
		fmt.Fprintf(os.Stderr, "bench: -soak-rate must be >= 1, got %d\n", rate)
		return 2
	}
	d, err := newDevServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer d.close()
	types := typeNames(soakTypes)
	if err := d.define(ctx, types); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	c, err := spawn(spawnOpts{contender: contBaton, url: d.srv.URL(), types: types, batch: soakBatch, interval: 100 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer c.stop()
	if err := c.send("go"); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var loadErr error
	var errOnce sync.Once
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := soakLoad(loadCtx, d, types, rate); err != nil && loadCtx.Err() == nil {
			errOnce.Do(func() { loadErr = err })
			stopLoad()
		}
	}()

	start := time.Now()
	var points []soakPoint
	tick := time.NewTicker(soakSampleEvery)
	defer tick.Stop()
	sample := func() error {
		st, err := c.procStats()
		if err != nil {
			return err
		}
		p := soakPoint{at: time.Since(start), completed: d.srv.Stats().WorkflowsComplete, st: st}
		points = append(points, p)
		fmt.Fprintf(os.Stderr, "soak %6s completed=%d rss=%.1fMiB heap=%.1fMiB goroutines=%d cpu=%.1fs\n", p.at.Round(time.Second),
			p.completed, float64(st.RSSKB)/1024, float64(st.HeapInuse)/(1<<20), st.Goroutines, float64(st.CPUNanos)/1e9)
		return nil
	}
loop:
	for time.Since(start) < dur {
		select {
		case <-tick.C:
			if err := sample(); err != nil {
				fmt.Fprintln(os.Stderr, "bench: soak:", err)
				break loop
			}
		case <-loadCtx.Done():
			break loop
		}
	}
	stopLoad()
	wg.Wait()
	if loadErr != nil {
		fmt.Fprintln(os.Stderr, "bench: soak load:", loadErr)
		return 1
	}
	md, flat := soakReport(points, dur, rate, d.srv.Stats().WorkflowsStarted)
	if out == "" {
		fmt.Print(md)
	} else if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !flat {
		return 3
	}
	return 0
}

// soakLoad starts rate workflows per second, spread over the types, and
// removes each workflow some seconds after it started.
func soakLoad(ctx context.Context, d *devServer, types []string, rate int) error {
	const step = 20 * time.Millisecond
	perStep := float64(rate) * step.Seconds()
	tick := time.NewTicker(step)
	defer tick.Stop()
	type started struct {
		id string
		at time.Time
	}
	var pending []started
	owed, n := 0.0, 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		owed += perStep
		for ; owed >= 1; owed-- {
			id, err := d.api.Workflows().Start(ctx, &model.StartWorkflowRequest{Name: wfName(types[n%len(types)]), Version: 1,
				Input: map[string]interface{}{"t0": "0"}})
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			n++
			pending = append(pending, started{id, time.Now()})
		}
		// Remove workflows older than 5 s (long done at this load), so the
		// server does not grow for ten minutes.
		cut := 0
		for cut < len(pending) && time.Since(pending[cut].at) > 5*time.Second {
			var ae *client.APIError
			if err := d.api.Workflows().Delete(ctx, pending[cut].id); err != nil && ctx.Err() == nil &&
				!(errors.As(err, &ae) && ae.StatusCode == 404) {
				return err
			}
			cut++
		}
		pending = pending[cut:]
	}
}

func medianOf(ps []soakPoint, f func(soakPoint) float64) float64 {
	v := make([]float64, len(ps))
	for i, p := range ps {
		v[i] = f(p)
	}
	sort.Float64s(v)
	return median(v)
}

// soakReport judges flatness after the warm-up: the median of the last third
// of the samples against the median of the first third. RSS and heap may
// grow by at most 10 % + 2 MiB, goroutines by at most 5.
func soakReport(points []soakPoint, dur time.Duration, rate int, started int64) (string, bool) {
	var b strings.Builder
	w := func(format string, args ...interface{}) { fmt.Fprintf(&b, format, args...) }
	w("# Soak: Baton worker under steady load\n\n")
	w("- Date: %s; machine: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), machineInfo())
	w("- Baton: %s\n", batonRevision())
	w("- Command: `cd test/bench && go run ./cmd/bench -soak -soak-for %v -soak-rate %d -out SOAK.md`\n", dur, rate)
	w("- Load: %d workflows/s of one SIMPLE task over %d task types (batch %d each, trivial handler) on the in-process dev server; %d workflows started. ",
		rate, soakTypes, soakBatch, started)
	w("The worker runs in its own process; these figures are that process's (RSS from /proc/self/statm, heap and goroutines from the Go runtime), sampled every %v.\n\n", soakSampleEvery)
	var steady []soakPoint
	for _, p := range points {
		if p.at >= soakWarmup {
			steady = append(steady, p)
		}
	}
	flat := false
	if len(steady) >= 6 {
		third := len(steady) / 3
		first, last := steady[:third], steady[len(steady)-third:]
		rss := func(p soakPoint) float64 { return float64(p.st.RSSKB) / 1024 }
		heap := func(p soakPoint) float64 { return float64(p.st.HeapInuse) / (1 << 20) }
		gor := func(p soakPoint) float64 { return float64(p.st.Goroutines) }
		r0, r1 := medianOf(first, rss), medianOf(last, rss)
		h0, h1 := medianOf(first, heap), medianOf(last, heap)
		g0, g1 := medianOf(first, gor), medianOf(last, gor)
		rssOK := r1 <= r0*1.1+2
		heapOK := h1 <= h0*1.1+2
		gorOK := g1 <= g0+5
		flat = rssOK && heapOK && gorOK
		verdict := func(ok bool) string {
			if ok {
				return "flat"
			}
			return "**grew**"
		}
		w("## Verdict: %s\n\n", map[bool]string{true: "flat", false: "NOT flat"}[flat])
		w("Medians of the first and the last third of the samples after a %v warm-up (flat: growth <= 10 %% + 2 MiB; goroutines <= +5).\n\n", soakWarmup)
		w("| Measure | First third | Last third | |\n|---|---|---|---|\n")
		w("| RSS MiB | %.1f | %.1f | %s |\n", r0, r1, verdict(rssOK))
		w("| Heap in use MiB | %.1f | %.1f | %s |\n", h0, h1, verdict(heapOK))
		w("| Goroutines | %.0f | %.0f | %s |\n\n", g0, g1, verdict(gorOK))
	} else {
		w("## Verdict: too short to judge (%d samples after the warm-up; need 6)\n\n", len(steady))
	}
	w("## Samples\n\n| Time | Tasks completed | RSS MiB | Heap in use MiB | Go sys MiB | Goroutines | Worker CPU s |\n|---|---|---|---|---|---|---|\n")
	for _, p := range points {
		w("| %v | %d | %.1f | %.1f | %.1f | %d | %.1f |\n", p.at.Round(time.Second), p.completed, float64(p.st.RSSKB)/1024,
			float64(p.st.HeapInuse)/(1<<20), float64(p.st.Sys)/(1<<20), p.st.Goroutines, float64(p.st.CPUNanos)/1e9)
	}
	return b.String(), flat
}
