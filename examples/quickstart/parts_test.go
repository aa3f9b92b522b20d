package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

func TestLatencyPercentiles(t *testing.T) {
	tests := []struct {
		name     string
		samples  []time.Duration
		p50, p99 time.Duration
	}{
		{name: "none", samples: nil, p50: 0, p99: 0},
		{name: "one", samples: []time.Duration{7}, p50: 7, p99: 7},
		{name: "unsorted four", samples: []time.Duration{40, 10, 30, 20}, p50: 20, p99: 40},
		{name: "hundred", samples: seq(1, 100), p50: 50, p99: 99},
		{name: "thousand", samples: seq(1, 1000), p50: 500, p99: 990},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l latencies
			for _, s := range tc.samples {
				l.add(s)
			}
			got := l.percentiles(0.5, 0.99)
			if got[0] != tc.p50 || got[1] != tc.p99 {
				t.Fatalf("p50, p99 = %v, %v; want %v, %v", got[0], got[1], tc.p50, tc.p99)
			}
		})
	}
}

func seq(from, to int) []time.Duration {
	var out []time.Duration
	// Reverse order so that the sort inside percentiles matters.
	for i := to; i >= from; i-- {
		out = append(out, time.Duration(i))
	}
	return out
}

func TestLatenciesConcurrentAdd(t *testing.T) {
	var l latencies
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				l.add(time.Duration(g*100 + i))
			}
		}()
	}
	wg.Wait()
	if l.count() != 800 {
		t.Fatalf("count = %d, want 800", l.count())
	}
}

func TestProgressTerminalRewritesOneLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true)
	p.show(snapshot{total: 100, completed: 5, tasks: 20, elapsed: time.Second}, time.Now())
	p.show(snapshot{total: 100, completed: 50, failed: 1, tasks: 200, elapsed: 2 * time.Second}, time.Now())
	p.finish(snapshot{total: 100, completed: 99, failed: 1, tasks: 400, elapsed: 4 * time.Second})
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("terminal output must be one line ended once, got %q", out)
	}
	if strings.Count(out, "\r") != 3 {
		t.Fatalf("want 3 redraws with \\r, got %q", out)
	}
	last := out[strings.LastIndex(out, "\r")+1:]
	for _, want := range []string{"100/100 workflows done", "(1 failed)", "400 tasks", "100 tasks/s", strings.Repeat("#", barWidth)} {
		if !strings.Contains(last, want) {
			t.Errorf("final line %q lacks %q", last, want)
		}
	}
}

func TestProgressBarAndRate(t *testing.T) {
	tests := []struct {
		name string
		s    snapshot
		fill int
		rate string
	}{
		{"start", snapshot{total: 10, expected: 70, elapsed: 100 * time.Millisecond, tasks: 5}, 1, "- tasks/s"},
		{"half the tasks", snapshot{total: 10, expected: 70, tasks: 35, elapsed: 2 * time.Second}, barWidth / 2, "18 tasks/s"},
		{"more tasks than expected", snapshot{total: 10, expected: 70, tasks: 90, completed: 5, elapsed: time.Second}, barWidth, "90 tasks/s"},
		{"workflows ended early", snapshot{total: 4, expected: 28, tasks: 4, failed: 2, completed: 2, elapsed: time.Second}, barWidth, "4 tasks/s"},
		{"no expectation", snapshot{total: 4, tasks: 4, completed: 1, elapsed: time.Second}, barWidth / 4, "4 tasks/s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line := tc.s.line()
			bar := line[1:strings.Index(line, "]")]
			if got := strings.Count(bar, "#"); got != tc.fill || len(bar) != barWidth {
				t.Errorf("bar %q has %d of %d filled, want %d", bar, got, len(bar), tc.fill)
			}
			if !strings.Contains(line, "| "+tc.rate+" |") {
				t.Errorf("line %q lacks rate %q", line, tc.rate)
			}
		})
	}
}

func TestProgressTerminalPadsShorterLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true)
	p.show(snapshot{total: 1000, completed: 999, tasks: 123456, elapsed: 100 * time.Second}, time.Now())
	first := buf.Len()
	buf.Reset()
	p.show(snapshot{total: 1000, tasks: 1, elapsed: time.Second}, time.Now())
	if buf.Len() != first {
		t.Fatalf("second draw has %d bytes, want %d so that it covers the first", buf.Len(), first)
	}
}

func TestProgressPlainThrottlesAndSkipsUnchanged(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, false)
	t0 := time.Unix(1000, 0)
	s := snapshot{total: 10, completed: 1, tasks: 4, elapsed: time.Second}
	p.show(s, t0)
	p.show(snapshot{total: 10, completed: 2, tasks: 8}, t0.Add(100*time.Millisecond)) // too soon
	s.elapsed = 3 * time.Second
	p.show(s, t0.Add(2*time.Second)) // same counts
	p.show(snapshot{total: 10, completed: 3, tasks: 12, elapsed: 3 * time.Second}, t0.Add(3*time.Second))
	p.finish(snapshot{total: 10, completed: 10, tasks: 40, elapsed: 4 * time.Second})
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 plain lines, got %d: %q", len(lines), buf.String())
	}
	if strings.Contains(buf.String(), "\r") {
		t.Fatalf("plain output must not contain \\r: %q", buf.String())
	}
	for i, want := range []string{"1/10", "3/10", "10/10"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], want)
		}
	}
}

func TestSummaryPrint(t *testing.T) {
	var buf bytes.Buffer
	s := summary{
		server: "dev server", started: 10, completed: 8, failed: 2, tasks: 50,
		elapsed: 2 * time.Second, p50: 1234567 * time.Nanosecond, p99: 45678901 * time.Nanosecond, latencySamples: 30,
		metrics: "http://localhost:2112/metrics", failedIDs: []string{"a", "b"},
	}
	s.print(&buf)
	out := buf.String()
	for _, want := range []string{
		"8 completed, 2 failed, 0 unfinished (of 10 started)",
		"50 executed, 25.0 tasks/s", "p50 1.23ms, p99 45.7ms",
		"http://localhost:2112/metrics", "failed workflow a", "failed workflow b",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if s.ok() {
		t.Error("a run with failed workflows must not be ok")
	}
	// A run stopped before any latency was measured must not print 0s as
	// if it had been.
	buf.Reset()
	(summary{started: 3}).print(&buf)
	if out := buf.String(); strings.Contains(out, "p50") || !strings.Contains(out, "task latency    not measured") {
		t.Errorf("summary without latency samples:\n%s", out)
	}
	if !(summary{started: 3, completed: 3}).ok() || (summary{}).ok() {
		t.Error("ok() wrong")
	}
}

func TestHandlers(t *testing.T) {
	t.Run("validate accepts numbers in any decoded form", func(t *testing.T) {
		for _, amount := range []interface{}{float64(1200), json.Number("1200"), 1200} {
			out, err := validateOrder(&model.Task{InputData: map[string]interface{}{"orderId": "o1", "amountCents": amount}})
			if err != nil {
				t.Fatalf("amount %T: %v", amount, err)
			}
			if m := out.(map[string]interface{}); m["amountCents"] != int64(1200) || m["orderId"] != "o1" {
				t.Fatalf("output %v", m)
			}
		}
	})
	t.Run("validate rejects bad input for good", func(t *testing.T) {
		_, err := validateOrder(&model.Task{InputData: map[string]interface{}{"orderId": "", "amountCents": 1.0}})
		if !model.IsNonRetryable(err) || !strings.Contains(err.Error(), "orderId") {
			t.Fatalf("err = %v, want a non-retryable error naming orderId", err)
		}
		_, err = validateOrder(&model.Task{InputData: map[string]interface{}{"orderId": "o", "amountCents": "x"}})
		if !model.IsNonRetryable(err) || !strings.Contains(err.Error(), "amountCents") {
			t.Fatalf("err = %v, want a non-retryable error naming amountCents", err)
		}
	})
	t.Run("charge fails the first attempt only", func(t *testing.T) {
		in := map[string]interface{}{"orderId": "o1"}
		if _, err := chargeCard(&model.Task{RetryCount: 0, InputData: in}); err == nil || model.IsNonRetryable(err) {
			t.Fatalf("first attempt: err = %v, want a retryable error", err)
		}
		out, err := chargeCard(&model.Task{RetryCount: 1, InputData: in})
		if err != nil || out.(map[string]interface{})["paymentId"] != "pay-o1" {
			t.Fatalf("retry: out %v err %v", out, err)
		}
	})
	t.Run("ship answers IN_PROGRESS before completing", func(t *testing.T) {
		for poll := 1; poll <= shipCallbacks; poll++ {
			out, err := shipOrder(&model.Task{TaskId: "t", WorkflowInstanceId: "w", PollCount: poll})
			res, ok := out.(*model.TaskResult)
			if err != nil || !ok || res.Status != model.InProgressTask || res.CallbackAfterSeconds != callbackSeconds {
				t.Fatalf("poll %d: out %+v err %v, want IN_PROGRESS with callback %d", poll, out, err, callbackSeconds)
			}
		}
		out, err := shipOrder(&model.Task{PollCount: shipCallbacks + 1, InputData: map[string]interface{}{"orderId": "o1"}})
		if err != nil || out.(map[string]interface{})["trackingId"] != "trk-o1" {
			t.Fatalf("last poll: out %v err %v", out, err)
		}
	})
	t.Run("notify needs a tracking id", func(t *testing.T) {
		if _, err := notifyCustomer(&model.Task{InputData: map[string]interface{}{"orderId": "o1"}}); err == nil {
			t.Fatal("want an error without trackingId")
		}
	})
}

func TestWorkflowDefReferencesEarlierSteps(t *testing.T) {
	def := workflowDef()
	seen := map[string]bool{"workflow": true}
	for _, wt := range def.Tasks {
		for key, v := range wt.InputParameters {
			expr := v.(string)
			ref := strings.SplitN(strings.TrimPrefix(expr, "${"), ".", 2)[0]
			if !seen[ref] {
				t.Errorf("step %s input %s uses %s before it ran", wt.TaskReferenceName, key, expr)
			}
		}
		seen[wt.TaskReferenceName] = true
	}
	if len(taskDefs()) != len(def.Tasks) {
		t.Errorf("%d task defs for %d steps", len(taskDefs()), len(def.Tasks))
	}
	for _, td := range taskDefs() {
		if td.OwnerEmail == "" || td.RetryCount < chargeFailures || td.ResponseTimeoutSeconds > td.TimeoutSeconds {
			t.Errorf("task def %+v would be rejected or not retry", td)
		}
	}
}
