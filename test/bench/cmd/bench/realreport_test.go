package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRealSectionIsReplacedInPlaceAndKeptByMakeBench(t *testing.T) {
	sec := func(body string) string { return realBegin + "\n" + body + "\n" + realEnd + "\n" }
	doc := replaceRealSection("# Benchmarks\n\nin-memory tables\n", sec("first"))
	if !strings.HasPrefix(doc, "# Benchmarks\n\nin-memory tables\n\n"+realBegin) {
		t.Fatalf("section not appended after the document:\n%s", doc)
	}
	doc = replaceRealSection(doc+"tail\n", sec("second"))
	if strings.Contains(doc, "first") || !strings.Contains(doc, "second") || !strings.HasSuffix(doc, realEnd+"\ntail\n") {
		t.Fatalf("section not replaced in place:\n%s", doc)
	}
	path := filepath.Join(t.TempDir(), "B.md")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	kept := keptRealSection(path)
	if kept != sec("second") {
		t.Fatalf("kept section = %q", kept)
	}
	// make bench writes a new document and carries the section over.
	if got := replaceRealSection("# new in-memory report\n", kept); !strings.Contains(got, "second") || strings.Count(got, realBegin) != 1 {
		t.Fatalf("carried-over report:\n%s", got)
	}
}

func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"3.21.14", "3.32.3", true}, {"3.32.3", "3.21.14", false}, {"3.9.1", "3.21.0", true}, {"3.21.14", "3.21.14", false}} {
		if got := versionLess(c.a, c.b); got != c.want {
			t.Errorf("versionLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestLatenciesClampEarlyPickups(t *testing.T) {
	base := time.Unix(1000, 0)
	ids := map[string]time.Time{"a": base, "b": base}
	got := map[string]pickup{
		"a": {workflowID: "a", at: base.Add(30 * time.Millisecond), scheduledMs: base.UnixMilli() - 10},
		"b": {workflowID: "b", at: base.Add(-2 * time.Millisecond)},
	}
	r, sch, early := latencies(ids, got)
	if early != 1 || len(r) != 2 || r[0] != 0 || r[1] != 30 {
		t.Fatalf("fromReturn %v early %d", r, early)
	}
	if len(sch) != 1 || sch[0] != 40 {
		t.Fatalf("fromSched %v", sch)
	}
}

func TestParsePickup(t *testing.T) {
	p, ok := parsePickup("wf-1 1700000000000000000 1700000000000")
	if !ok || p.workflowID != "wf-1" || p.at.UnixNano() != 1700000000000000000 || p.scheduledMs != 1700000000000 {
		t.Fatalf("parsePickup = %+v, %v", p, ok)
	}
	if _, ok := parsePickup("wf-1 x 1"); ok {
		t.Fatal("bad line parsed")
	}
}

func TestRealReportDrawsEveryContenderWithPythonAndUpdateV2(t *testing.T) {
	res := realResults{}
	for _, sc := range []string{"tput1", "tput10", "tput100"} {
		for i, c := range []string{contBaton, contOfficial, contPython, contLimit, contBatonV2} {
			res.add(sc, c, sample{mTPS: float64(100 * (i + 1)), mSrvCPU: 900})
		}
	}
	for i, c := range []string{contBaton, contOfficial, contPython, contLimit} {
		res.add("latency", c, sample{mIsoP50: float64(10 * (i + 1))})
		res.add("idle", c, sample{mIdleSrvCPU: 1})
	}
	run := realRun{Version: "3.21.14", Store: "redis", Results: res, Pinning: "pinned with taskset: test"}
	if err := drawRealChart([]realRun{run}, filepath.Join(t.TempDir(), "c.png")); err != nil {
		t.Fatal(err)
	}
	md := realSection([]realRun{run}, "c.png")
	for _, want := range []string{"| Official Python |", "| Baton update-v2 |", "server CPU µs/task (JVM + store)", "CPUs: pinned with taskset", "### Idle worker"} {
		if !strings.Contains(md, want) {
			t.Errorf("section lacks %q", want)
		}
	}
	if strings.Contains(md[strings.Index(md, "### Pickup latency"):], "Baton update-v2") {
		t.Error("the latency and idle tables have an update-v2 column")
	}
}
