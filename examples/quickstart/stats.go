package main

import (
	"math"
	"slices"
	"sync"
	"time"
)

// latencies collects task latencies from many worker goroutines and answers
// percentile questions about them. The quickstart records a few thousand
// samples at most, so it keeps them all and sorts on demand instead of using
// a sketch.
type latencies struct {
	mu      sync.Mutex
	samples []time.Duration
}

// add records one sample.
func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.samples = append(l.samples, d)
	l.mu.Unlock()
}

// count returns the number of samples recorded so far.
func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.samples)
}

// percentiles returns the value at each quantile q (0 < q <= 1) using the
// nearest-rank method: the smallest sample such that at least q of all
// samples are less than or equal to it. With no samples every answer is 0.
func (l *latencies) percentiles(qs ...float64) []time.Duration {
	l.mu.Lock()
	sorted := slices.Clone(l.samples)
	l.mu.Unlock()
	slices.Sort(sorted)
	out := make([]time.Duration, len(qs))
	if len(sorted) == 0 {
		return out
	}
	for i, q := range qs {
		rank := int(math.Ceil(q * float64(len(sorted))))
		rank = min(max(rank, 1), len(sorted))
		out[i] = sorted[rank-1]
	}
	return out
}
