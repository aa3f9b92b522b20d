package worker

import "time"

// clockSource is the runner's source of time: every wait in the runner (poll
// interval, backoff, lease extension) goes through it. It is the system
// clock; tests control time with testing/synctest, which fakes it.
type clockSource interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) clockTimer
	// AfterFunc calls f in its own goroutine after d unless stopped first.
	AfterFunc(d time.Duration, f func()) clockTimer
}

// clockTimer is a stoppable one-shot timer made by a clockSource.
type clockTimer interface {
	// C delivers the time when the timer fires; nil for AfterFunc timers.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did so.
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) clockTimer { return sysTimer{time.NewTimer(d)} }

func (systemClock) AfterFunc(d time.Duration, f func()) clockTimer {
	return sysTimer{time.AfterFunc(d, f)}
}

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }
