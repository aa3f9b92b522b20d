package main

import (
	"debug/buildinfo"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// abReport is the Markdown of an A/B run: Baton as built into this binary
// (A) against Baton as built into another bench binary (B), each also
// against the limit, which ran alternately in the same rounds and so shows
// how much of a difference is the machine's.
func abReport(res results, p plan, cmdline string, began time.Time, elapsed time.Duration) string {
	var b strings.Builder
	w := func(format string, args ...interface{}) { fmt.Fprintf(&b, format, args...) }
	w("# A/B: Baton (A) against Baton (B)\n\n")
	w("- Date: %s UTC (run took %s)\n", began.UTC().Format("2006-01-02 15:04"), elapsed.Round(time.Second))
	w("- Machine: %s\n", machineInfo())
	if bi, ok := debug.ReadBuildInfo(); ok {
		w("- A: this binary, %s\n", vcsOf(bi))
	}
	w("- B: `%s`", p.binB)
	if bi, err := buildinfo.ReadFile(p.binB); err == nil {
		w(", %s", vcsOf(bi))
	}
	w("\n- Command: `%s`\n", cmdline)
	w("- Contenders A, B and the limit alternate within every round (%d rounds); the same scenarios as BENCHMARKS.md.\n\n", p.rounds)
	w("| Scenario | Metric | Better | A | B | B / A | A / limit | B / limit |\n|---|---|---|---|---|---|---|---|\n")
	for _, sc := range scenarios() {
		if _, ok := res[sc.key]; !ok {
			continue
		}
		for _, d := range metricsOf(sc.key) {
			dir := "lower"
			if d.higherBetter {
				dir = "higher"
			}
			a, bb, l := res.med(sc.key, contBaton, d.key), res.med(sc.key, contBatonB, d.key), res.med(sc.key, contLimit, d.key)
			w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", sc.title, d.label, dir,
				spread(res[sc.key][contBaton], d), spread(res[sc.key][contBatonB], d), ratio(bb, a), ratio(a, l), ratio(bb, l))
		}
	}
	w("\nA and B columns are min / **median** / max over rounds; ratios are of medians.\n")
	return b.String()
}

// vcsOf names the revision a binary was built from, when the build recorded it.
func vcsOf(bi *debug.BuildInfo) string {
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "revision not recorded in the binary"
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if modified == "true" {
		return "commit " + rev + " with uncommitted changes"
	}
	return "commit " + rev
}
