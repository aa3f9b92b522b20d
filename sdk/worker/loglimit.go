package worker

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// errLogLimiter keeps repeated failures to a bounded number of log lines:
// the first failure of a streak is logged at once, later ones are counted
// and summarised at most once per interval, and the end of the streak is
// logged once. A streak that starts within an interval of the last line
// (errors that come and go, e.g. a share of 503s, between polls that
// succeed) is not announced: its failures are counted into the next line.
// It is safe for concurrent use (updates fail on many goroutines).
type errLogLimiter struct {
	what     string // e.g. "poll failing"
	interval time.Duration
	clock    clockSource

	streak atomic.Bool // fast path for success: no lock when not failing

	mu        sync.Mutex
	failing   bool
	announced bool // the streak's first failure was logged
	total     int  // failures in the streak
	pending   int  // failures since the last line
	since     time.Time
	lastLine  time.Time
	lastError error
}

func newErrLogLimiter(what string, interval time.Duration, clock clockSource) *errLogLimiter {
	return &errLogLimiter{what: what, interval: interval, clock: clock}
}

// failure records err and logs at warn level when due.
func (l *errLogLimiter) failure(log logrus.FieldLogger, err error) {
	now := l.clock.Now()
	l.mu.Lock()
	l.lastError = err
	if !l.failing {
		l.failing, l.total, l.since = true, 1, now
		l.streak.Store(true)
		if !l.lastLine.IsZero() && now.Sub(l.lastLine) < l.interval {
			l.announced = false
			l.pending++
			l.mu.Unlock()
			return
		}
		earlier := l.pending
		l.announced, l.pending, l.lastLine = true, 0, now
		l.mu.Unlock()
		if earlier > 0 {
			log.WithError(err).Warnf("%s (and %d errors in short streaks before)", l.what, earlier)
			return
		}
		log.WithError(err).Warnf("%s", l.what)
		return
	}
	l.total++
	l.pending++
	if now.Sub(l.lastLine) < l.interval {
		l.mu.Unlock()
		return
	}
	n, window := l.pending, now.Sub(l.lastLine)
	l.pending, l.lastLine = 0, now
	l.mu.Unlock()
	log.Warnf("%s: %d errors in the last %s, last: %v", l.what, n, window.Round(time.Second), err)
}

// success ends a streak, logging once at info level how long it lasted.
func (l *errLogLimiter) success(log logrus.FieldLogger) {
	if !l.streak.Load() {
		return
	}
	l.mu.Lock()
	if !l.failing {
		l.mu.Unlock()
		return
	}
	total, since, announced := l.total, l.since, l.announced
	l.failing, l.total = false, 0
	if announced {
		l.pending = 0
	}
	l.streak.Store(false)
	l.mu.Unlock()
	if !announced {
		return // its failures go into the next line
	}
	log.Infof("%s: recovered after %d errors in %s", l.what, total, l.clock.Now().Sub(since).Round(time.Millisecond))
}
