package worker

import (
	"testing"
	"time"
)

// waitFor waits until cond holds, looking every millisecond, and fails the
// test naming what it waited for once within has passed. Inside a synctest
// bubble both the look and the deadline are on the fake clock, so a wait
// costs no real time; outside it they are on the real clock, and within
// only bounds a test that has already failed.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", within, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fastClock runs k times as fast as the real clock: Now advances k times as
// fast and timers fire after d/k. It is for tests over real HTTP, where
// synctest cannot be used, whose rules span many seconds of the runner's
// time (the fatal evidence needs 15 s of failed polls): the runner follows
// the same rules, in a tenth of the time.
type fastClock struct {
	k      time.Duration
	origin time.Time
}

func newFastClock(k int) fastClock { return fastClock{k: time.Duration(k), origin: time.Now()} }

func (c fastClock) Now() time.Time { return c.origin.Add(time.Since(c.origin) * c.k) }

func (c fastClock) NewTimer(d time.Duration) clockTimer { return sysTimer{time.NewTimer(d / c.k)} }

func (c fastClock) AfterFunc(d time.Duration, f func()) clockTimer {
	return sysTimer{time.AfterFunc(d/c.k, f)}
}

// withClock makes the runner use c.
func withClock(c clockSource) Option { return func(rc *runnerConfig) { rc.clock = c } }
