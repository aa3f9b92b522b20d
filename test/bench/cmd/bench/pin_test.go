package main

import (
	"os"
	"strings"
	"testing"
)

func TestWarmUpEndsWhenTwoRunsInARowAgreeWithinTenPercent(t *testing.T) {
	cases := []struct {
		tps  []float64
		want bool
	}{
		{nil, false},
		{[]float64{500}, false},
		{[]float64{300, 500}, false},
		{[]float64{300, 500, 540}, true},
		{[]float64{540, 500}, true},
		{[]float64{500, 560}, false},
		{[]float64{0, 0}, false},
	}
	for _, c := range cases {
		if got := warmedUp(c.tps, 0.10); got != c.want {
			t.Errorf("warmedUp(%v) = %v, want %v", c.tps, got, c.want)
		}
	}
}

func TestServerCPUCountsThisProcessTree(t *testing.T) {
	// Burn a little CPU, then the tree of this process must show it.
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i % 7
	}
	if x == 0 {
		t.Fatal("unreachable")
	}
	if got := treeCPU(os.Getpid()); got <= 0 {
		t.Fatalf("treeCPU(self) = %d, want > 0", got)
	}
	if got := treeCPU(); got != 0 {
		t.Fatalf("treeCPU() with no process = %d, want 0", got)
	}
}

func TestPinningOffOrWithoutServerLeavesEverythingWhereItIs(t *testing.T) {
	p, err := setupPinning("off", []int{os.Getpid()})
	if err != nil || p.serverCPUs != "" || !strings.Contains(p.describe(), "not pinned") {
		t.Fatalf("-pin off: %+v, %v", p, err)
	}
	p, err = setupPinning("auto", nil)
	if err != nil || p.serverCPUs != "" {
		t.Fatalf("-pin auto without a server pid: %+v, %v", p, err)
	}
	if _, err := setupPinning("0-1", []int{os.Getpid()}); err == nil {
		t.Fatal("-pin 0-1 (no slash) accepted")
	}
}

func TestRealReportHasAColumnAndARatioPerContender(t *testing.T) {
	run := realRun{Results: realResults{"tput1": {
		contBaton: {{mTPS: 700}}, contOfficial: {{mTPS: 500}}, contPython: {{mTPS: 350}}, contLimit: {{mTPS: 800}},
	}}}
	conts := realContenders(run)
	if strings.Join(conts, ",") != "baton,official,python,limit" {
		t.Fatalf("contenders %v", conts)
	}
	row := realCells(run.Results, "tput1", defTPS, conts)
	for _, want := range []string{"700", "500", "350", "800", "1.40x", "2.00x", "0.88x"} {
		if !strings.Contains(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}
}
