package conductortest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
)

// Server is an in-memory, Conductor-compatible server listening on a
// loopback port. Create it with NewServer and stop it with Close.
type Server struct {
	opts     options
	log      logrus.FieldLogger
	hostname string
	handler  http.Handler
	bufs     sync.Pool // *bytes.Buffer: JSON answers, request bodies (getBuf)
	encs     sync.Pool // *[]byte: task answers written by internal/wire (getEnc)

	// mu guards all execution state: definitions, workflows, tasks, queues,
	// poll data, logs and timers. Critical sections are short (no I/O and no
	// JSON encoding happen under it).
	mu        sync.Mutex
	taskDefs  map[string]*taskDefEntry
	wfDefs    map[string]map[int]*wfDefEntry
	snapCache map[*model.WorkflowDef]*defSnap // cleared on any definition change
	workflows map[string]*workflow
	tasks     map[string]*task
	queues    map[string]*queue
	pollData  map[pollKey]pollEntry
	logs      map[string][]taskLog
	running   map[string]int     // IN_PROGRESS tasks per task definition name
	rateHits  map[string][]int64 // hand-out times (ms) per task definition name
	timers    timerHeap
	wfChanged chan struct{} // closed and replaced whenever a workflow ends

	updates map[string][]updateRecord // guarded by mu
	offset  atomic.Int64              // nanoseconds added to the wall clock (Advance)

	stats       counters
	faults      atomic.Pointer[faultSet]
	faultCounts faultCounters
	auth        *authState
	store       *payloads     // external payload storage (payload.go)
	slots       chan struct{} // WithMaxConcurrentRequests; nil when unbounded
	slotWaiters atomic.Int64  // requests waiting for one of the slots

	closing     chan struct{}
	closeOnce   sync.Once
	sweeperWake chan struct{}
	bg          sync.WaitGroup // sweeper and serve loops

	// active counts running handler calls so that Close can wait for them.
	activeMu   sync.Mutex
	activeCond *sync.Cond
	active     int
	closed     bool

	// listener state, for Down/Up.
	lnMu      sync.Mutex
	srv       *http.Server
	ln        net.Listener
	addr      string
	down      bool
	conns     map[net.Conn]struct{}
	downTimer *time.Timer
}

// Option configures a Server.
type Option func(*options)

type options struct {
	addr               string
	authKey            string
	authSecret         string
	tokenTTL           time.Duration
	logger             logrus.FieldLogger
	ownerEmailOptional bool
	postpone           time.Duration
	longPollName       string       // WithLongPoll
	longPoll           longPollMode // longPollName, resolved by Start
	version            Version
	maxRequests        int
	payloadStoreName   string        // WithExternalPayloadStorage (payload.go)
	payloadStore       payloadStore  // payloadStoreName, resolved by Start
	payloadLimits      PayloadLimits // WithExternalPayloadStorage, zero fields filled by Start
	// clock replaces the wall clock under the Advance offset; only this
	// package's tests set it (export_test.go).
	clock func() time.Time
}

// WithAuth turns on Orkes-style authentication: POST /api/token with this key
// id and secret returns a token, and every other request needs it in the
// X-Authorization header.
func WithAuth(keyID, keySecret string) Option {
	return func(o *options) { o.authKey, o.authSecret = keyID, keySecret }
}

// WithTokenTTL sets how long an issued token stays valid (default 45
// minutes); it must be > 0.
func WithTokenTTL(d time.Duration) Option { return func(o *options) { o.tokenTTL = d } }

// WithLogger sets the logger; every request is logged at debug level.
// Without it the server logs to a new logrus.Logger at warning level.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// WithAddr sets the listen address (default "127.0.0.1:0", a free loopback
// port).
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithOwnerEmailOptional accepts task and workflow definitions without
// ownerEmail, as servers with conductor.app.ownerEmailMandatory=false do.
func WithOwnerEmailOptional() Option { return func(o *options) { o.ownerEmailOptional = true } }

// WithPostponeDuration sets how long a task refused at poll time by
// concurrentExecLimit or rateLimitPerFrequency stays invisible (default 60 s,
// as conductor.app.taskExecutionPostponeDuration).
func WithPostponeDuration(d time.Duration) Option { return func(o *options) { o.postpone = d } }

// defaultTokenTTL is the token lifetime when WithTokenTTL is not given.
const defaultTokenTTL = 45 * time.Minute

// NewServer starts a server on a loopback port (or the WithAddr address). It
// panics if it cannot listen, like httptest.NewServer; use Start for an error.
func NewServer(opts ...Option) *Server {
	s, err := Start(opts...)
	if err != nil {
		panic(fmt.Sprintf("conductortest: %v", err))
	}
	return s
}

// Start is NewServer returning the listen error instead of panicking.
func Start(opts ...Option) (*Server, error) {
	o := options{addr: "127.0.0.1:0", tokenTTL: defaultTokenTTL, postpone: 60 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.tokenTTL <= 0 {
		return nil, fmt.Errorf("token TTL must be > 0, got %v", o.tokenTTL)
	}
	if o.version == "" {
		o.version = defaultVersion
	}
	v, err := parseVersion(string(o.version))
	if err != nil {
		return nil, err
	}
	o.version = v
	if o.longPoll, err = parseLongPoll(o.longPollName); err != nil {
		return nil, err
	}
	if o.maxRequests < 0 {
		return nil, fmt.Errorf("max concurrent requests must be >= 0 (0: unbounded), got %d", o.maxRequests)
	}
	if o.payloadStore, err = parsePayloadStore(o.payloadStoreName); err != nil {
		return nil, err
	}
	o.payloadLimits = o.payloadLimits.withDefaults()
	if (o.authKey == "") != (o.authSecret == "") {
		return nil, errors.New("auth needs both a key id and a key secret")
	}
	s := newServer(o)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.trackConn,
		ErrorLog:          nil,
	}
	s.serve(ln)
	s.bg.Add(1)
	go s.sweeper()
	return s, nil
}

func newServer(o options) *Server {
	s := &Server{
		opts:        o,
		taskDefs:    map[string]*taskDefEntry{},
		wfDefs:      map[string]map[int]*wfDefEntry{},
		snapCache:   map[*model.WorkflowDef]*defSnap{},
		workflows:   map[string]*workflow{},
		tasks:       map[string]*task{},
		queues:      map[string]*queue{},
		pollData:    map[pollKey]pollEntry{},
		logs:        map[string][]taskLog{},
		running:     map[string]int{},
		rateHits:    map[string][]int64{},
		wfChanged:   make(chan struct{}),
		updates:     map[string][]updateRecord{},
		closing:     make(chan struct{}),
		sweeperWake: make(chan struct{}, 1),
		conns:       map[net.Conn]struct{}{},
		store:       newPayloads(),
	}
	s.activeCond = sync.NewCond(&s.activeMu)
	if o.maxRequests > 0 {
		s.slots = make(chan struct{}, o.maxRequests)
	}
	if o.logger != nil {
		s.log = o.logger
	} else {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		s.log = l
	}
	s.hostname, _ = os.Hostname()
	if o.authKey != "" {
		s.auth = newAuthState(o.authKey, o.authSecret, o.tokenTTL)
	}
	s.handler = s.middleware(s.routes())
	return s
}

// URL returns the API base URL, e.g. "http://127.0.0.1:41234/api".
func (s *Server) URL() string { return "http://" + s.addr + "/api" }

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Handler returns the server's HTTP handler, for mounting in another server.
// Paths are absolute (/api/..., /health).
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the server: it closes the listener and every connection, ends
// pending long polls, stops the timers and waits for running handlers. It is
// safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.lnMu.Lock()
		if s.downTimer != nil {
			s.downTimer.Stop()
		}
		s.down = true
		if s.ln != nil {
			_ = s.ln.Close()
		}
		for c := range s.conns {
			_ = c.Close()
		}
		s.lnMu.Unlock()
		_ = s.srv.Close()
		s.activeMu.Lock()
		s.closed = true
		for s.active > 0 {
			s.activeCond.Wait()
		}
		s.activeMu.Unlock()
		s.bg.Wait()
	})
}

func (s *Server) enter() bool {
	s.activeMu.Lock()
	defer s.activeMu.Unlock()
	if s.closed {
		return false
	}
	s.active++
	return true
}

func (s *Server) exit() {
	s.activeMu.Lock()
	s.active--
	if s.active == 0 {
		s.activeCond.Broadcast()
	}
	s.activeMu.Unlock()
}

func (s *Server) serve(ln net.Listener) {
	s.ln = ln
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		_ = s.srv.Serve(ln)
	}()
}

func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	switch st {
	case http.StateNew:
		if s.down {
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// now is the server's clock: the wall clock (or the tests' stand-in) plus
// what Advance added.
func (s *Server) now() time.Time {
	t := time.Now()
	if s.opts.clock != nil {
		t = s.opts.clock()
	}
	return t.Add(time.Duration(s.offset.Load()))
}

// Advance moves the server's clock forward by d: retry delays, callbacks,
// postponements and every timeout that falls due in the skipped time fire
// at once (before Advance returns), and waiting long polls pick up tasks
// that became due. It lets a test skip a 60 s retry delay or a response
// timeout without waiting. The clock never goes back; times in answers
// include the offset.
func (s *Server) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	s.offset.Add(int64(d))
	s.mu.Lock()
	s.fireTimers(s.now())
	for _, q := range s.queues {
		q.wake()
	}
	s.mu.Unlock()
	select { // the sweeper sets its timer for the new next deadline
	case s.sweeperWake <- struct{}{}:
	default:
	}
}

func nowMs(t time.Time) int64 { return t.UnixMilli() }

var errClosed = errors.New("conductortest: server closed")
