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

// loopback returns settings for a free loopback port.
func loopback(t *testing.T) *settings.MetricsSettings {
	t.Helper()
	s := settings.NewMetricsSettings("/metrics", freePort(t))
	s.Host = "127.0.0.1"
	return s
}

// portIsFree reports whether addr can be bound again.
func portIsFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

func TestServeServesTheRegistryAndStopsWhenCtxEnds(t *testing.T) {
	s := loopback(t)
	exp, err := NewExporter(s)
	if err != nil {
		t.Fatal(err)
	}
	exp.Recorder().PollDone("served_type", 0, time.Millisecond, "")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- exp.Serve(ctx) }()

	addr := "127.0.0.1:" + strconv.Itoa(s.Port)
	body := scrape(t, "http://"+addr+"/metrics")
	for _, want := range []string{`task_poll_counter{taskType="served_type"} 1`, "go_goroutines", "process_"} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s:\n%s", want, body)
		}
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
	if err := portIsFree(addr); err != nil {
		t.Fatalf("port still bound after Serve returned: %v", err)
	}
}

// The settings are copied: changing them after NewExporter changes nothing.
func TestExporterKeepsItsSettings(t *testing.T) {
	s := loopback(t)
	exp, err := NewExporter(s)
	if err != nil {
		t.Fatal(err)
	}
	s.ApiEndpoint = "/elsewhere"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- exp.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	if body := scrape(t, "http://127.0.0.1:"+strconv.Itoa(s.Port)+"/metrics"); !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics does not serve the registry:\n%s", body)
	}
}

func TestServeWithAnEndedContextReturnsNilAndFreesThePort(t *testing.T) {
	s := loopback(t)
	exp, err := NewExporter(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := exp.Serve(ctx); err != nil {
		t.Errorf("Serve with an ended context = %v, want nil", err)
	}
	if err := portIsFree("127.0.0.1:" + strconv.Itoa(s.Port)); err != nil {
		t.Errorf("port still bound: %v", err)
	}
}

func TestPortInUseIsAnError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	s := settings.NewMetricsSettings("/metrics", port)
	s.Host = "127.0.0.1"
	exp, err := NewExporter(s)
	if err != nil {
		t.Fatal(err)
	}
	// Serve returns at once instead of logging and blocking.
	err = exp.Serve(context.Background())
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Serve on a busy port = %v, want an error wrapping EADDRINUSE", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("error %q does not name the address", err)
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

// WithListener: the program binds first (port 0 here), so it knows the
// address before serving; another handler shares the port; Serve closes the
// listener when it returns.
func TestServeOnAListenerWithAnotherHandler(t *testing.T) {
	exp, err := NewExporter(settings.NewMetricsSettings("/metrics", 2112)) // port unused: the listener wins
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	status := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"ready":true}`)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- exp.Serve(ctx, WithListener(ln), WithHandler("/status", status)) }()

	base := "http://" + ln.Addr().String()
	if got := scrape(t, base+"/status"); got != `{"ready":true}` {
		t.Errorf("/status answered %q", got)
	}
	if got := scrape(t, base+"/metrics"); !strings.Contains(got, "go_goroutines") {
		t.Errorf("/metrics answered:\n%s", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
	if err := portIsFree(ln.Addr().String()); err != nil {
		t.Errorf("the listener is still open after Serve returned: %v", err)
	}
}

// A listener that fails while serving ends Serve with an error, not a hang.
func TestServeReportsAFailedListener(t *testing.T) {
	exp, err := NewExporter(settings.NewDefaultMetricsSettings())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- exp.Serve(context.Background(), WithListener(ln)) }()
	scrape(t, "http://"+ln.Addr().String()+"/metrics") // serving
	_ = ln.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "metrics: serve on "+ln.Addr().String()) {
			t.Errorf("Serve after its listener closed = %v, want an error naming the address", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of its listener failing")
	}
}

func TestTwoExportersServeSeparateRegistries(t *testing.T) {
	var urls []string
	tasks := []string{"only_in_a", "only_in_b"}
	for _, task := range tasks {
		exp, err := NewExporter(settings.NewDefaultMetricsSettings())
		if err != nil {
			t.Fatal(err)
		}
		exp.Recorder().ExecuteDone(task, time.Millisecond, "COMPLETED", "", 10)
		urls = append(urls, ServeOnLoopback(t, exp))
	}
	for i, url := range urls {
		body := scrape(t, url)
		if !strings.Contains(body, `task_executed_total{status="COMPLETED",taskType="`+tasks[i]+`"} 1`) {
			t.Errorf("exporter %d does not show its own task type %s", i, tasks[i])
		}
		if other := tasks[1-i]; strings.Contains(body, other) {
			t.Errorf("exporter %d shows the other exporter's task type %s", i, other)
		}
	}
}

func TestBadInputIsAnError(t *testing.T) {
	badHost := settings.NewMetricsSettings("/metrics", 2112)
	badHost.Host = "127.0.0.1:9090"
	for _, c := range []struct {
		name string
		s    *settings.MetricsSettings
		want string
	}{
		{"nil settings", nil, "settings must not be nil"},
		{"invalid port", settings.NewMetricsSettings("/metrics", -1), "got -1"},
		{"invalid path", settings.NewMetricsSettings("metrics", 2112), `got "metrics"`},
		{"host with a port", badHost, `got "127.0.0.1:9090"`},
	} {
		if _, err := NewExporter(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewExporter, %s: err = %v, want one containing %q", c.name, err, c.want)
		}
		if err := ProvideMetrics(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ProvideMetrics, %s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
	if err := ProvideMetrics(settings.NewDefaultMetricsSettings(), prometheus.NewRegistry(), nil); err == nil ||
		!strings.Contains(err.Error(), "gatherer 1 must not be nil") {
		t.Errorf("ProvideMetrics with a nil gatherer: err = %v", err)
	}

	exp, err := NewExporter(settings.NewDefaultMetricsSettings())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opt  ServeOption
		want string
	}{
		{"handler on the metrics path", WithHandler("/metrics", http.NotFoundHandler()), `"/metrics" is the metrics path`},
		{"handler without pattern", WithHandler("", http.NotFoundHandler()), "needs a pattern and a handler"},
		{"nil handler", WithHandler("/status", nil), "needs a pattern and a handler"},
	} {
		// The listener given with a bad option is closed all the same.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := exp.Serve(context.Background(), WithListener(ln), c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Serve, %s: err = %v, want one containing %q", c.name, err, c.want)
		}
		if err := portIsFree(ln.Addr().String()); err != nil {
			t.Errorf("Serve, %s: the listener was left open: %v", c.name, err)
		}
	}
	if err := exp.Serve(context.Background(), WithListener(nil)); err == nil || !strings.Contains(err.Error(), "WithListener needs a listener") {
		t.Errorf("Serve with a nil listener: err = %v", err)
	}
}
