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
