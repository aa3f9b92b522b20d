package realfaults

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tcpProxy forwards TCP connections from a loopback port to target and
// injects network faults on command:
//   - resetAll closes every connection with a TCP reset (SO_LINGER 0);
//   - setLatency delays every chunk of data by d in each direction (order
//     kept);
//   - setHalfOpen(true) stops forwarding without closing anything: new
//     connections are accepted and held, data on open ones is no longer
//     passed on, so requests get no answer and no error; setHalfOpen(false)
//     closes the connections it held (they are dead, as after a lost NAT
//     entry) and forwards again.
type tcpProxy struct {
	ln       net.Listener
	target   string
	latency  atomic.Int64 // nanoseconds, each way
	halfOpen atomic.Bool

	mu     sync.Mutex
	conns  map[*proxyConn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted atomic.Int64
	reset    atomic.Int64
	held     atomic.Int64 // connections stalled by a half-open period
}

type proxyConn struct {
	client  net.Conn
	mu      sync.Mutex
	server  net.Conn
	stalled atomic.Bool
	done    chan struct{}
	once    sync.Once
}

func (c *proxyConn) close(rst bool) {
	c.once.Do(func() {
		if rst {
			if tc, ok := c.client.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
		c.client.Close()
		c.mu.Lock()
		if c.server != nil {
			if tc, ok := c.server.(*net.TCPConn); ok && rst {
				_ = tc.SetLinger(0)
			}
			c.server.Close()
		}
		c.mu.Unlock()
		close(c.done)
	})
}

// newTCPProxy starts a proxy to target (host:port); it is closed when the
// test ends.
func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

// addr is the proxy's host:port.
func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		pc := &proxyConn{client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns[pc] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(pc)
	}
}

func (p *tcpProxy) serve(pc *proxyConn) {
	defer p.wg.Done()
	defer func() {
		pc.close(false)
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
	}()
	if p.halfOpen.Load() {
		// Accepted, never forwarded, never closed until the period ends.
		pc.stalled.Store(true)
		p.held.Add(1)
		<-pc.done
		return
	}
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return // the client sees its connection closed, as if the server refused it
	}
	pc.mu.Lock()
	pc.server = s
	pc.mu.Unlock()
	select {
	case <-pc.done: // closed while dialling
		s.Close()
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(pc, pc.client, s) }()
	go func() { defer wg.Done(); p.pump(pc, s, pc.client) }()
	wg.Wait()
}

type chunk struct {
	data []byte
	due  time.Time
}

// pump copies src to dst chunk by chunk, each held until its due time (read
// time plus the latency then in force); in a half-open period it stops
// passing data on and waits for the connection to be closed.
func (p *tcpProxy) pump(pc *proxyConn, src, dst net.Conn) {
	chunks := make(chan chunk, 256)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case chunks <- chunk{data: buf[:n], due: time.Now().Add(time.Duration(p.latency.Load()))}:
				case <-pc.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer pc.close(false)
	for ch := range chunks {
		if wait := time.Until(ch.due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-pc.done:
				return
			}
		}
		if p.halfOpen.Load() || pc.stalled.Load() {
			if !pc.stalled.Swap(true) {
				p.held.Add(1)
			}
			<-pc.done
			return
		}
		if _, err := dst.Write(ch.data); err != nil {
			return
		}
	}
}

// resetAll closes every open connection with a TCP reset and returns how
// many there were.
func (p *tcpProxy) resetAll() int {
	p.mu.Lock()
	list := make([]*proxyConn, 0, len(p.conns))
	for pc := range p.conns {
		list = append(list, pc)
	}
	p.mu.Unlock()
	for _, pc := range list {
		pc.close(true)
	}
	p.reset.Add(int64(len(list)))
	return len(list)
}

func (p *tcpProxy) setLatency(d time.Duration) { p.latency.Store(int64(d)) }

// setHalfOpen starts (true) or ends (false) a half-open period; ending it
// closes the connections held meanwhile and returns how many.
func (p *tcpProxy) setHalfOpen(on bool) int {
	p.halfOpen.Store(on)
	if on {
		return 0
	}
	p.mu.Lock()
	var list []*proxyConn
	for pc := range p.conns {
		if pc.stalled.Load() {
			list = append(list, pc)
		}
	}
	p.mu.Unlock()
	for _, pc := range list {
		pc.close(false)
	}
	return len(list)
}

func (p *tcpProxy) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.resetAll()
	p.wg.Wait()
}

// hostPort is the host:port of an http URL.
func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// ---- 500 answers with a SQLITE_BUSY body ---------------------------------------------------

// busyInjector is an HTTP proxy in front of the server that answers a share
// of polls and result posts with 500 and the body Conductor 3.32 on SQLite
// sends when the database is locked. Of the posts it fails, every other one
// is first passed on (the server applied the result, then the answer was
// lost to the error) and the others are not (the transaction failed).
// Which requests fail is fixed by their order: every updateEvery-th result
// post and every pollEvery-th poll (0: none).
type busyInjector struct {
	srv         *httptest.Server
	target      *url.URL
	tr          *http.Transport
	updateEvery int64
	pollEvery   int64

	updates, polls atomic.Int64
	failedBefore   atomic.Int64 // result posts answered 500 without passing them on
	failedAfter    atomic.Int64 // result posts passed on, then answered 500
	failedPolls    atomic.Int64
	forwardErrs    atomic.Int64
}

// busyBody is a Conductor error answer with the text the SQLite driver
// gives when it finds the database locked.
const busyBody = `{"status":500,"message":"[SQLITE_BUSY] The database file is locked (database is locked)","instance":"realfaults-injector","retryable":false}`

func newBusyInjector(t *testing.T, target string, updateEvery, pollEvery int64) *busyInjector {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	b := &busyInjector{target: u, tr: http.DefaultTransport.(*http.Transport).Clone(), updateEvery: updateEvery, pollEvery: pollEvery}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() {
		b.srv.Close()
		b.tr.CloseIdleConnections()
	})
	return b
}

// url is the injector's API root (…/api when target has it).
func (b *busyInjector) url() string { return b.srv.URL + b.target.Path }

func (b *busyInjector) serve(w http.ResponseWriter, req *http.Request) {
	kind := requestKind(req)
	fail, forward := false, true
	switch kind {
	case "update":
		n := b.updates.Add(1)
		if b.updateEvery > 0 && n%b.updateEvery == 0 {
			fail = true
			forward = (n/b.updateEvery)%2 == 0
		}
	case "poll":
		n := b.polls.Add(1)
		if b.pollEvery > 0 && n%b.pollEvery == 0 {
			fail, forward = true, false
		}
	}
	if forward {
		status, header, body, err := b.forward(req)
		if err != nil {
			if req.Context().Err() == nil { // not a poll the worker gave up on (shutdown)
				b.forwardErrs.Add(1)
			}
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if !fail {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return
		}
	}
	switch {
	case kind == "poll":
		b.failedPolls.Add(1)
	case forward:
		b.failedAfter.Add(1)
	default:
		b.failedBefore.Add(1)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, busyBody)
}

// forward passes req on to the server and returns its whole answer.
func (b *busyInjector) forward(req *http.Request) (int, http.Header, []byte, error) {
	out := req.Clone(req.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = b.target.Scheme, b.target.Host
	out.Host = b.target.Host
	resp, err := b.tr.RoundTrip(out)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	h := resp.Header.Clone()
	h.Del("Content-Length")
	return resp.StatusCode, h, body, nil
}

// ---- the proxies' own tests (no Conductor needed) ------------------------------------------

// TestTCPProxy checks each fault of the proxy against a local HTTP server,
// so that the scenarios on real servers rest on a proxy known to do what it
// says.
func TestTCPProxy(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "ok "+r.URL.Path)
	}))
	defer backend.Close()
	defer close(release)
	p := newTCPProxy(t, hostPort(t, backend.URL))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	get := func(c *http.Client, path string) (string, error) {
		resp, err := c.Get("http://" + p.addr() + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	if got, err := get(hc, "/a"); err != nil || got != "ok /a" {
		t.Fatalf("plain request through the proxy: %q, %v", got, err)
	}

	// Reset: a request waiting for its answer fails at once. (On a fresh
	// connection: net/http sends a GET that failed on a reused one again.)
	errc := make(chan error, 1)
	once := &http.Transport{}
	defer once.CloseIdleConnections()
	go func() { _, err := get(&http.Client{Transport: once, Timeout: 5 * time.Second}, "/block"); errc <- err }()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the backend through the proxy within 5 s")
	}
	if n := p.resetAll(); n == 0 {
		t.Fatal("resetAll found no connection")
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the request survived a reset")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not fail within 5 s of a reset")
	}

	// Latency: 100 ms each way puts at least 200 ms on a round trip on a
	// new connection, whatever the machine's speed. (A lower bound the proxy
	// enforces by waiting: a slow machine only adds to it, so it cannot
	// fail by chance.)
	p.setLatency(100 * time.Millisecond)
	fresh := &http.Transport{}
	start := time.Now()
	got, err := get(&http.Client{Transport: fresh, Timeout: 5 * time.Second}, "/slow")
	took := time.Since(start)
	fresh.CloseIdleConnections()
	if err != nil || got != "ok /slow" {
		t.Fatalf("request with latency: %q, %v", got, err)
	}
	if took < 200*time.Millisecond {
		t.Fatalf("a round trip with 100 ms each way took %s", took)
	}
	p.setLatency(0)

	// Half-open: no answer and no error until the client's own deadline;
	// the connection stays open; after the period new requests pass.
	p.setHalfOpen(true)
	short := &http.Transport{}
	_, err = get(&http.Client{Transport: short, Timeout: 300 * time.Millisecond}, "/held")
	short.CloseIdleConnections()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("request in a half-open period: want a client timeout, got %v", err)
	}
	if p.held.Load() == 0 {
		t.Fatal("the proxy held no connection in the half-open period")
	}
	p.setHalfOpen(false)
	if got, err := get(&http.Client{Transport: tr, Timeout: 5 * time.Second}, "/after"); err != nil || got != "ok /after" {
		t.Fatalf("request after the half-open period: %q, %v", got, err)
	}
}

// TestBusyInjector checks that the injector fails the share of result posts
// and polls it is set to, passes half of the failed posts on, and forwards
// the rest unchanged.
func TestBusyInjector(t *testing.T) {
	var reached atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requestKind(r) == "update" {
			reached.Add(1)
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "fine")
	}))
	defer backend.Close()
	inj := newBusyInjector(t, backend.URL+"/api", 5, 4)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	statuses := map[string]map[int]int{"update": {}, "poll": {}}
	for i := 0; i < 20; i++ {
		resp, err := hc.Post(inj.url()+"/tasks", "application/json", strings.NewReader(`{"taskId":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		statuses["update"][resp.StatusCode]++
		if resp.StatusCode == http.StatusInternalServerError && !strings.Contains(string(body), "SQLITE_BUSY") {
			t.Fatalf("injected answer without the SQLite text: %s", body)
		}
		resp, err = hc.Get(inj.url() + "/tasks/poll/batch/x?count=1")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses["poll"][resp.StatusCode]++
	}
	want := fmt.Sprint(map[string]map[int]int{"update": {200: 16, 500: 4}, "poll": {200: 15, 500: 5}})
	if got := fmt.Sprint(statuses); got != want {
		t.Fatalf("answers %s, want %s", got, want)
	}
	// 16 passed through plus the 2 failed after forwarding.
	if reached.Load() != 18 || inj.failedAfter.Load() != 2 || inj.failedBefore.Load() != 2 {
		t.Fatalf("server saw %d posts, failed after/before forwarding %d/%d; want 18, 2/2",
			reached.Load(), inj.failedAfter.Load(), inj.failedBefore.Load())
	}
}
