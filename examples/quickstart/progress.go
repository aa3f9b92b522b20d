package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// isTerminal reports whether f is a character device (a terminal), in which
// case the progress line is redrawn in place; otherwise (a pipe, a file, a CI
// log) plain lines are printed. A character-device check is enough here and
// needs no dependency.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// snapshot is the state of the run that the progress line shows.
type snapshot struct {
	total     int           // workflows started
	expected  int           // tasks the run should execute in all (0: unknown)
	completed int           // workflows the server reports COMPLETED
	failed    int           // workflows that ended in any other terminal status
	tasks     int           // tasks the workers have finished (any status)
	elapsed   time.Duration // since the first workflow was started
}

func (s snapshot) done() int { return s.completed + s.failed }

// rateAfter is how long the run must have lasted before a rate is shown;
// earlier, a handful of tasks over a few milliseconds gives silly numbers.
const rateAfter = 500 * time.Millisecond

// rate renders the average task rate since the start of the run.
func (s snapshot) rate() string {
	if s.elapsed < rateAfter {
		return "- tasks/s"
	}
	return fmt.Sprintf("%.0f tasks/s", float64(s.tasks)/s.elapsed.Seconds())
}

const barWidth = 24

// progressFraction is how far the run is, between 0 and 1. Workflows end
// nearly together, so the executed tasks measure progress better while they
// run; ended workflows count fully (a failed one executes fewer tasks).
func (s snapshot) progressFraction() float64 {
	if s.total == 0 {
		return 0
	}
	f := float64(s.done()) / float64(s.total)
	if s.expected > 0 {
		f = max(f, min(float64(s.tasks)/float64(s.expected), 1))
	}
	return f
}

// line renders the snapshot as one line without a line break.
func (s snapshot) line() string {
	filled := int(s.progressFraction() * barWidth)
	bar := strings.Repeat("#", filled) + strings.Repeat(".", barWidth-filled)
	return fmt.Sprintf("[%s] %d/%d workflows done (%d failed) | %d tasks | %s | %.1fs",
		bar, s.done(), s.total, s.failed, s.tasks, s.rate(), s.elapsed.Seconds())
}

// progress draws snapshots: on a terminal it rewrites a single status line
// with a carriage return; elsewhere it prints a line when the numbers changed,
// at most once per plainEvery, so logs stay short.
type progress struct {
	out        io.Writer
	tty        bool
	plainEvery time.Duration

	drawn     bool
	lastWidth int
	lastPlain time.Time
	lastText  string
}

func newProgress(out io.Writer, tty bool) *progress {
	return &progress{out: out, tty: tty, plainEvery: time.Second}
}

// show draws s. now is passed in so that the plain-mode throttling can be
// tested without a clock.
func (p *progress) show(s snapshot, now time.Time) {
	text := s.line()
	if p.tty {
		// Pad with spaces so that a shorter line fully covers the previous one.
		pad := max(p.lastWidth-len(text), 0)
		fmt.Fprintf(p.out, "\r%s%s", text, strings.Repeat(" ", pad))
		p.lastWidth = len(text)
		p.drawn = true
		return
	}
	// In plain mode the elapsed time always changes, so compare the counts only.
	counts := fmt.Sprintf("%d/%d/%d/%d", s.done(), s.total, s.failed, s.tasks)
	if counts == p.lastText || now.Sub(p.lastPlain) < p.plainEvery {
		return
	}
	fmt.Fprintln(p.out, text)
	p.lastText, p.lastPlain = counts, now
}

// finish draws the final state and ends the line, so that what follows starts
// on a fresh line in both modes.
func (p *progress) finish(s snapshot) {
	text := s.line()
	if p.tty {
		p.show(s, time.Time{})
		fmt.Fprintln(p.out)
		return
	}
	fmt.Fprintln(p.out, text)
}

// syncWriter serialises writes: the runner's logger writes from worker
// goroutines while the progress line is drawn from the main one, and an
// io.Writer such as bytes.Buffer is not safe for concurrent use.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
