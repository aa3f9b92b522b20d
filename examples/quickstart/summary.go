package main

import (
	"fmt"
	"io"
	"time"
)

// summary is what the quickstart reports at the end of a run.
type summary struct {
	server     string   // where the workflows ran
	ids        []string // the workflows started
	started    int
	completed  int
	failed     int
	unfinished int // still running when the run stopped (Ctrl-C or deadline)
	failedIDs  []string
	tasks      int
	elapsed    time.Duration
	p50, p99   time.Duration
	// latencySamples is how many task attempts the percentiles are over.
	latencySamples int
	// designedFailures counts the charge step's failures on purpose (each
	// retried by the server); otherFailures any other failed execution.
	designedFailures, otherFailures int
	metrics                         string        // scrape URL, or why there is none
	linger                          time.Duration // how long metrics stay up after the summary
}

// ok reports whether the run went as the quickstart expects: every workflow
// started also completed. The failing step is retried by the server, so a
// failed workflow is never expected.
func (s summary) ok() bool {
	return s.started > 0 && s.completed == s.started
}

func (s summary) print(w io.Writer) {
	rate := 0.0
	if s.elapsed > 0 {
		rate = float64(s.tasks) / s.elapsed.Seconds()
	}
	fmt.Fprintln(w, "Summary")
	fmt.Fprintf(w, "  server          %s\n", s.server)
	fmt.Fprintf(w, "  workflows       %d completed, %d failed, %d unfinished (of %d started) in %s\n",
		s.completed, s.failed, s.unfinished, s.started, s.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  tasks           %d executed, %.1f tasks/s\n", s.tasks, rate)
	if s.latencySamples == 0 {
		// No percentile of nothing: 0s would read as a measurement.
		fmt.Fprintf(w, "  task latency    not measured (no task attempt without retry or callback delays completed)\n")
	} else {
		fmt.Fprintf(w, "  task latency    p50 %s, p99 %s (scheduled to completed, by the server's clock; %d attempts without retry or callback delays)\n",
			roundLatency(s.p50), roundLatency(s.p99), s.latencySamples)
	}
	fmt.Fprintf(w, "  failures        %d designed (the charge step fails its first attempt; the server retried it), %d other",
		s.designedFailures, s.otherFailures)
	if s.otherFailures > 0 {
		fmt.Fprint(w, " (logged above)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  metrics         %s\n", s.metrics)
	if s.linger > 0 {
		fmt.Fprintf(w, "\nMetrics and worker status stay up for %s: Ctrl-C to quit now.\n", s.linger)
	}
	for i, id := range s.failedIDs {
		if i == 5 {
			fmt.Fprintf(w, "  ... and %d more failed workflows\n", len(s.failedIDs)-i)
			break
		}
		fmt.Fprintf(w, "  failed workflow %s\n", id)
	}
}

// roundLatency keeps three significant digits or so: 1.234ms, 12.3ms, 123ms.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
