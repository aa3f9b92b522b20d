package main

import (
	"math"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRatePerMinuteUsesSpacingNotWindowCount(t *testing.T) {
	base := time.Unix(1000, 0)
	l := &pollLog{at: map[string][]time.Time{}}
	// Type a polls every 5 s, type b every 200 ms; the window [12 s, 24 s)
	// holds 2 or 3 polls of a depending on phase, but the rate is 12/min.
	for i := 0; i < 10; i++ {
		l.at["a"] = append(l.at["a"], base.Add(time.Duration(i)*5*time.Second))
	}
	for i := 0; i < 200; i++ {
		l.at["b"] = append(l.at["b"], base.Add(time.Duration(i)*200*time.Millisecond))
	}
	got := l.ratePerMinute(base.Add(12*time.Second), base.Add(24*time.Second))
	if want := 12.0 + 300.0; math.Abs(got-want) > 0.01 {
		t.Fatalf("ratePerMinute = %.3f, want %.0f (12 for a 5 s spacing + 300 for 200 ms)", got, want)
	}
	// A type with no poll in the window adds nothing.
	if got := l.ratePerMinute(base.Add(time.Hour), base.Add(2*time.Hour)); got != 0 {
		t.Fatalf("ratePerMinute over an empty window = %v, want 0", got)
	}
}

func TestQuantileAndMedian(t *testing.T) {
	v := make([]float64, 50)
	for i := range v {
		v[i] = float64(i + 1)
	}
	if got := quantile(v, 0.5); got != 25 {
		t.Errorf("p50 of 1..50 = %v, want 25", got)
	}
	if got := quantile(v, 0.9); got != 45 {
		t.Errorf("p90 of 1..50 = %v, want 45", got)
	}
	if got := quantile(v, 0.99); got != 50 {
		t.Errorf("p99 of 1..50 = %v, want 50 (the largest of 50)", got)
	}
	if got := median([]float64{1, 2, 10}); got != 2 {
		t.Errorf("median = %v, want 2", got)
	}
	if got := median([]float64{1, 3}); got != 2 {
		t.Errorf("median of two = %v, want 2", got)
	}
}

func TestTargetsJudgeMediansOfTheSameRun(t *testing.T) {
	r := results{
		"tput100": {
			contBaton:    {{mTPS: 9000}, {mTPS: 9500}, {mTPS: 20000}},
			contOfficial: {{mTPS: 3000}, {mTPS: 3100}, {mTPS: 3200}},
			contLimit:    {{mTPS: 10000}, {mTPS: 10000}, {mTPS: 10000}},
		},
	}
	ts := targets(r)
	if len(ts) != 2 {
		t.Fatalf("got %d targets, want 2 (3x official, 0.9x limit)", len(ts))
	}
	if !ts[0].ok { // 9500 / 3100 = 3.06
		t.Errorf("3x official: want met, got %+v", ts[0])
	}
	if !ts[1].ok { // 9500 / 10000 = 0.95
		t.Errorf("0.9x limit: want met, got %+v", ts[1])
	}
	r["tput100"][contBaton] = []sample{{mTPS: 8000}}
	ts = targets(r)
	if ts[0].ok || ts[1].ok {
		t.Errorf("8000 tasks/s is neither 3x 3100 nor 0.9x 10000; got %+v", ts)
	}
}

func TestConnStatsCountsConnectionsAndInFlightPeaks(t *testing.T) {
	cs := &connStats{}
	for i := 0; i < 3; i++ {
		cs.track(nil, http.StateNew)
	}
	cs.track(nil, http.StateClosed)
	cs.track(nil, http.StateNew)
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	h := cs.serveWith(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		}()
	}
	for i := 0; i < 4; i++ {
		<-entered
	}
	close(release)
	wg.Wait()
	opened, peakOpen, peakFlight := cs.snapshot()
	if opened != 4 || peakOpen != 3 || peakFlight != 4 {
		t.Fatalf("opened, peak open, peak in flight = %d, %d, %d; want 4, 3, 4", opened, peakOpen, peakFlight)
	}
	// The peaks restart from the present (3 open, none in flight).
	if _, peakOpen, peakFlight = cs.snapshot(); peakOpen != 3 || peakFlight != 0 {
		t.Fatalf("after snapshot: peak open, peak in flight = %d, %d; want 3, 0", peakOpen, peakFlight)
	}
}

func TestSpawnForRunsBatonBFromTheOtherBinary(t *testing.T) {
	p := plan{binB: "/some/other/bench"}
	got := p.spawnFor(spawnOpts{contender: contBatonB, batch: 7})
	if got.exe != "/some/other/bench" || got.contender != contBaton || got.label != contBatonB || got.batch != 7 {
		t.Fatalf("spawnFor(baton-b) = exe %q, contender %q, label %q, batch %d; want the other binary's baton, labelled baton-b, batch 7",
			got.exe, got.contender, got.label, got.batch)
	}
	for _, c := range contenders {
		if o := p.spawnFor(spawnOpts{contender: c}); o.exe != "" || o.contender != c {
			t.Fatalf("spawnFor(%s) = exe %q, contender %q; want this binary, unchanged", c, o.exe, o.contender)
		}
	}
}

func TestVcsOfNamesRevisionAndDirtyTree(t *testing.T) {
	bi := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}}
	if got := vcsOf(bi); got != "commit 0123456 with uncommitted changes" {
		t.Fatalf("vcsOf = %q", got)
	}
	if got := vcsOf(&debug.BuildInfo{}); !strings.Contains(got, "not recorded") {
		t.Fatalf("vcsOf without vcs settings = %q, want it to say the revision was not recorded", got)
	}
}
