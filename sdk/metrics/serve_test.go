package metrics

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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-go/baton/sdk/settings"
)

// freePort asks the system for a free loopback port. Another process could
// take it before the test binds it, which is unlikely enough on a test box.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// scrape GETs url until it answers 200 or the deadline passes.
func scrape(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				client.CloseIdleConnections()
				return string(body)
			}
			lastErr = errors.New(resp.Status)
		} else {
			lastErr = err
		}
		time.Sleep(20 * time.Millisecond) // polling a server that is starting up
	}
	t.Fatalf("GET %s: no 200 within 10s, last error: %v", url, lastErr)
	return ""
}

func TestServeServesTheGathererAndStopsWhenCtxEnds(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec, err := NewPrometheus(reg)
	if err != nil {
		t.Fatal(err)
	}
	rec.PollDone("served_type", 0, time.Millisecond, "")

	port := freePort(t)
	s := settings.NewMetricsSettings("/metrics", port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, s, reg, WithHost("127.0.0.1")) }()

	body := scrape(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/metrics")
	if !strings.Contains(body, `task_poll_counter{taskType="served_type"} 1`) {
		t.Errorf("scrape does not show the recorded poll:\n%s", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of its context ending")
	}
	// The port is free again.
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("port still bound after Serve returned: %v", err)
	}
	_ = ln.Close()
}

func TestPortInUseIsAnError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	s := settings.NewMetricsSettings("/metrics", port)

	check := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s on a busy port: want error, got nil", name)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("%s: error %v does not wrap EADDRINUSE", name, err)
		}
		if !strings.Contains(err.Error(), strconv.Itoa(port)) {
			t.Errorf("%s: error %q does not name the port %d", name, err, port)
		}
	}

	// Serve returns at once instead of logging and blocking.
	check("Serve", Serve(context.Background(), s, prometheus.NewRegistry(), WithHost("127.0.0.1")))
	check("ProvideMetrics-shaped Exporter.ListenAndServe", func() error {
		exp, err := NewExporter(s)
		if err != nil {
			t.Fatal(err)
		}
		return exp.ListenAndServe(WithHost("127.0.0.1"))
	}())
	srv, err := NewServer(s, prometheus.NewRegistry(), WithHost("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	check("Server.Start", srv.Start())
	if err := srv.Stop(context.Background()); err != nil {
		t.Errorf("Stop after a failed Start = %v, want nil", err)
	}
}

func TestProvideMetricsReturnsTheListenError(t *testing.T) {
	// ProvideMetrics listens on all interfaces, like the original. On Linux a
	// port held on the loopback address cannot also be bound on the wildcard
	// address, so the bind fails and nothing is served beyond loopback.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	err = ProvideMetrics(settings.NewMetricsSettings("/metrics", port))
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("ProvideMetrics on a busy port = %v, want an error wrapping EADDRINUSE", err)
	}
}

func TestTwoExportersServeSeparateRegistries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type running struct {
		exp  *Exporter
		srv  *Server
		task string
	}
	var rs []running
	for _, task := range []string{"only_in_a", "only_in_b"} {
		// Port 0: the system picks a free port, which URL() reports.
		exp, err := NewExporter(settings.NewMetricsSettings("/metrics", 0))
		if err != nil {
			t.Fatal(err)
		}
		srv, err := exp.NewServer(WithHost("127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := srv.Stop(ctx); err != nil {
				t.Errorf("Stop: %v", err)
			}
		}()
		exp.Recorder().ExecuteDone(task, time.Millisecond, "COMPLETED", "", 10)
		rs = append(rs, running{exp, srv, task})
	}

	for i, r := range rs {
		body := scrape(t, r.srv.URL())
		if !strings.Contains(body, `task_executed_total{status="COMPLETED",taskType="`+r.task+`"} 1`) {
			t.Errorf("exporter %d does not show its own task type %s", i, r.task)
		}
		other := rs[1-i].task
		if strings.Contains(body, other) {
			t.Errorf("exporter %d shows the other exporter's task type %s", i, other)
		}
		if !strings.Contains(body, "go_goroutines") {
			t.Errorf("exporter %d lacks the Go runtime metrics", i)
		}
	}
}

func TestServerLifecycle(t *testing.T) {
	s := settings.NewMetricsSettings("/metrics", 0)
	status := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"ready":true}`)
	})
	srv, err := NewServer(s, prometheus.NewRegistry(), WithHost("127.0.0.1"), WithHandler("/status", status))
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != nil || srv.URL() != "" {
		t.Errorf("before Start: Addr=%v URL=%q, want nil and empty", srv.Addr(), srv.URL())
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err == nil {
		t.Error("second Start: want error, got nil")
	}
	wantURL := "http://127.0.0.1:" + strconv.Itoa(srv.Addr().(*net.TCPAddr).Port) + "/metrics"
	if srv.URL() != wantURL {
		t.Errorf("URL = %q, want %q", srv.URL(), wantURL)
	}
	if got := scrape(t, strings.TrimSuffix(srv.URL(), "/metrics")+"/status"); got != `{"ready":true}` {
		t.Errorf("extra handler answered %q", got)
	}
	for i := range 2 { // the second Stop is a no-op
		if err := srv.Stop(context.Background()); err != nil {
			t.Errorf("Stop #%d: %v", i+1, err)
		}
	}
	if err := srv.Start(); err == nil {
		t.Error("Start after Stop: want error, got nil")
	}
	var never Server
	if err := never.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start = %v, want nil", err)
	}
}

func TestNewServerRejectsBadInput(t *testing.T) {
	good := settings.NewMetricsSettings("/metrics", 2112)
	reg := prometheus.NewRegistry()
	cases := []struct {
		name string
		s    *settings.MetricsSettings
		g    prometheus.Gatherer
		opts []ServerOption
		want string
	}{
		{"nil settings", nil, reg, nil, "settings"},
		{"nil gatherer", good, nil, nil, "gatherer"},
		{"handler on the metrics path", good, reg, []ServerOption{WithHandler("/metrics", http.NotFoundHandler())}, `"/metrics"`},
		{"handler without pattern", good, reg, []ServerOption{WithHandler("", http.NotFoundHandler())}, "pattern"},
		{"invalid port", settings.NewMetricsSettings("/metrics", -1), reg, nil, "-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewServer(c.s, c.g, c.opts...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := NewExporter(nil); err == nil {
		t.Error("NewExporter(nil): want error")
	}
}
