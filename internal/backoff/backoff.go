// Package backoff computes retry delays: exponential growth from a minimum to
// a cap, with "equal jitter" so that many workers failing at the same moment
// do not retry in lockstep, yet no delay is ever shorter than half its
// nominal value.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy describes an exponential backoff. The zero value is not useful;
// fill Min and Max.
type Policy struct {
	// Min is the nominal delay before the first retry (attempt 1).
	Min time.Duration
	// Max caps the nominal delay.
	Max time.Duration
}

// Nominal returns the un-jittered delay for attempt (1 = first retry):
// Min * 2^(attempt-1), capped at Max.
func (p Policy) Nominal(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := p.Min
	for i := 1; i < attempt; i++ {
		if d >= p.Max/2 {
			return p.Max
		}
		d *= 2
	}
	if d > p.Max {
		return p.Max
	}
	return d
}

// Delay returns the jittered delay for attempt: uniformly drawn from
// [nominal/2, nominal].
func (p Policy) Delay(attempt int) time.Duration {
	return Jitter(p.Nominal(attempt), 0.5)
}

// Jitter returns d reduced by a random fraction of at most frac (0..1) of
// itself: a value in [d*(1-frac), d].
func Jitter(d time.Duration, frac float64) time.Duration {
	if d <= 0 || frac <= 0 {
		return d
	}
	if frac > 1 {
		frac = 1
	}
	span := int64(float64(d) * frac)
	if span <= 0 {
		return d
	}
	return d - time.Duration(rand.Int64N(span+1))
}
