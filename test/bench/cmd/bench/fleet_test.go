package main

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// A trimmed /actuator/prometheus answer of Conductor 3.32 (Spring Boot 3,
// Tomcat with its MBean registry on).
const promText = `# HELP tomcat_threads_busy_threads
# TYPE tomcat_threads_busy_threads gauge
tomcat_threads_busy_threads{name="http-nio-127.0.0.1-8080"} 37.0
tomcat_threads_config_max_threads{name="http-nio-127.0.0.1-8080"} 200.0
http_server_requests_active_seconds_count{exception="none",method="GET",outcome="SUCCESS",status="200",uri="UNKNOWN"} 36
http_server_requests_active_seconds_count{exception="none",method="POST",outcome="SUCCESS",status="200",uri="UNKNOWN"} 2
http_server_requests_seconds_count{error="none",exception="none",method="GET",outcome="SUCCESS",status="200",uri="/api/tasks/poll/batch/{tasktype}"} 1000
http_server_requests_seconds_count{error="none",exception="none",method="GET",outcome="SUCCESS",status="200",uri="/api/tasks/queue/sizes"} 50
http_server_requests_seconds_count{error="none",exception="none",method="POST",outcome="SUCCESS",status="200",uri="/api/workflow"} 20
http_server_requests_seconds_count{error="none",exception="none",method="GET",outcome="SUCCESS",status="200",uri="/actuator/prometheus"} 7
`

func TestScrapePromReadsThreadsAndRequestCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/actuator/prometheus" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(promText))
	}))
	defer srv.Close()
	hc := srv.Client()
	defer hc.CloseIdleConnections()
	ps, err := scrapeProm(context.Background(), hc, srv.URL+"/api")
	if err != nil {
		t.Fatal(err)
	}
	if !ps.haveBusy || ps.busy != 37 || ps.maxThreads != 200 {
		t.Errorf("busy threads %v (have %v), max %v; want 37 of 200", ps.busy, ps.haveBusy, ps.maxThreads)
	}
	if ps.active != 38 {
		t.Errorf("requests in flight %v, want 38 (GET and POST summed)", ps.active)
	}
	// Ten seconds later: 500 more polls, 10 more queue-size reads, 10 more
	// starts and some scrapes, which are not the workers' doing.
	later := promScrape{byURI: map[string]float64{}}
	for k, v := range ps.byURI {
		later.byURI[k] = v
	}
	later.byURI["/api/tasks/poll/batch/{tasktype}"] += 500
	later.byURI["/api/tasks/queue/sizes"] += 10
	later.byURI["/api/workflow"] += 10
	later.byURI["/actuator/prometheus"] += 20
	all, polls, sizes := uriRates(ps, later, 10)
	if math.Abs(all-52) > 1e-9 || math.Abs(polls-50) > 1e-9 || math.Abs(sizes-1) > 1e-9 {
		t.Errorf("rates all %v polls %v sizes %v; want 52, 50, 1 (scrapes left out)", all, polls, sizes)
	}
}

func TestScrapePromReportsAMissingEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	hc := srv.Client()
	defer hc.CloseIdleConnections()
	if _, err := scrapeProm(context.Background(), hc, srv.URL+"/api"); err == nil {
		t.Fatal("no error for a server without /actuator/prometheus")
	}
}

func TestReadProcSampleSeesOwnCPU(t *testing.T) {
	a, err := readProcSample(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if a.RSSKB <= 0 {
		t.Fatalf("RSS %d kB for this process", a.RSSKB)
	}
	// Burn some CPU; the kernel counts it in 10 ms ticks.
	deadline := time.Now().Add(200 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	b, err := readProcSample(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if b.CPUNanos <= a.CPUNanos {
		t.Errorf("CPU time did not grow over a 200 ms busy loop (%d -> %d ns, %d loops)", a.CPUNanos, b.CPUNanos, x)
	}
}

func TestProcessGoneForAnUnusedPid(t *testing.T) {
	if processGone(os.Getpid()) {
		t.Error("this process reported gone")
	}
	if !processGone(1 << 30) {
		t.Error("a pid beyond pid_max reported alive")
	}
}
