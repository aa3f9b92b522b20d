package main

import (
	"strings"
	"testing"
	"time"
)

func soakPoints(n int, rss func(i int) int64) []soakPoint {
	var ps []soakPoint
	for i := 0; i < n; i++ {
		ps = append(ps, soakPoint{at: soakWarmup + time.Duration(i)*soakSampleEvery, up: true,
			st: procStats{RSSKB: rss(i), HeapInuse: 4 << 20, Goroutines: 20, Sockets: 8}})
	}
	return ps
}

func TestSoakReportPassesFlatAndComplete(t *testing.T) {
	tr := &soakTrack{}
	tr.started.Store(100)
	tr.done.Store(100)
	md, ok := soakReport(soakConfig{dur: 10 * time.Minute, rate: 10}, soakPoints(30, func(int) int64 { return 30 << 10 }), nil, tr, 10*time.Minute, "")
	if !ok || !strings.Contains(md, "**PASS**") {
		t.Fatalf("flat run with every workflow completed judged failed:\n%s", md)
	}
}

func TestSoakReportFailsOnGrowthOrLoss(t *testing.T) {
	done := &soakTrack{}
	done.started.Store(100)
	done.done.Store(100)
	// RSS climbing 1 MiB per sample: 30 MiB over the run.
	md, ok := soakReport(soakConfig{dur: 10 * time.Minute, rate: 10}, soakPoints(30, func(i int) int64 { return int64(30+i) << 10 }), nil, done, 10*time.Minute, "")
	if ok || !strings.Contains(md, "**grew**") {
		t.Errorf("growing RSS judged flat:\n%s", md)
	}
	lost := &soakTrack{}
	lost.started.Store(100)
	lost.done.Store(97)
	lost.failed.Store(1)
	md, ok = soakReport(soakConfig{dur: 10 * time.Minute, rate: 10}, soakPoints(30, func(int) int64 { return 30 << 10 }), nil, lost, 10*time.Minute, "")
	if ok || !strings.Contains(md, "1 failed, 2 still not completed") {
		t.Errorf("a failed and two unfinished workflows judged a pass:\n%s", md)
	}
}
