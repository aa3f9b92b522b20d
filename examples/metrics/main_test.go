package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunServesMetricsAndStops runs the example on a free loopback port,
// waits until the flaky handler's failures and the completed tasks show on
// the printed scrape URL, then stops it as Ctrl-C would.
func TestRunServesMetricsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out strings.Builder
	go func() { done <- run(ctx, &out, config{port: 0, host: "127.0.0.1", workflows: 6}, ready) }()

	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("run returned before serving: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("run not ready within 20s")
	}

	want := []string{
		`task_execute_error{kind="handler_error",taskType="metrics_example_flaky"} 2`,
		`task_executed_total{status="COMPLETED",taskType="metrics_example_ok"} 6`,
		`task_executed_total{status="COMPLETED",taskType="metrics_example_flaky"} 6`,
	}
	deadline := time.Now().Add(30 * time.Second)
	var body string
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			body = string(b)
			all := true
			for _, w := range want {
				all = all && strings.Contains(body, w)
			}
			if all {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the scrape still lacks some of %q:\n%s", want, body)
		}
		time.Sleep(50 * time.Millisecond) // polling the endpoint
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop within 20s of cancel")
	}
	if !strings.Contains(out.String(), url) {
		t.Errorf("output does not print the scrape URL %s:\n%s", url, out.String())
	}
}

// TestRunStopsOnABusyPort: a taken port ends the example at once with an
// error naming it, before any worker starts.
func TestRunStopsOnABusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	var out strings.Builder
	err = run(context.Background(), &out, config{port: port, host: "127.0.0.1", workflows: 1}, nil)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("run on a busy port = %v, want an error wrapping EADDRINUSE that names port %d", err, port)
	}
	if out.Len() != 0 {
		t.Errorf("run printed %q before failing", out.String())
	}
}
