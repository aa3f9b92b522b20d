package backoff

import (
	"testing"
	"time"
)

func TestNominalDoublesUpToCap(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{64, time.Second},
		{1 << 30, time.Second},
	}
	for _, tt := range tests {
		if got := p.Nominal(tt.attempt); got != tt.want {
			t.Errorf("Nominal(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestDelayStaysWithinHalfAndFullNominal(t *testing.T) {
	p := Policy{Min: 10 * time.Millisecond, Max: 5 * time.Second}
	for attempt := 1; attempt < 20; attempt++ {
		n := p.Nominal(attempt)
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := p.Delay(attempt)
			if d < n/2 || d > n {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", attempt, d, n/2, n)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Fatalf("Delay(%d) gave the same value 200 times: no jitter", attempt)
		}
	}
}

func TestJitterEdgeCases(t *testing.T) {
	if got := Jitter(0, 0.5); got != 0 {
		t.Errorf("Jitter(0) = %v", got)
	}
	if got := Jitter(time.Second, 0); got != time.Second {
		t.Errorf("Jitter(1s, 0) = %v", got)
	}
	for i := 0; i < 100; i++ {
		if got := Jitter(time.Second, 3); got < 0 || got > time.Second {
			t.Fatalf("Jitter(1s, 3) = %v, want within [0, 1s]", got)
		}
	}
}
