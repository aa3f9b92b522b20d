// Package client is an HTTP client for the Conductor REST API: the
// connection to one server, with token authentication (Orkes), retries
// where they are safe, typed errors and capped answers, and the task API
// (APIClient.Tasks) a worker needs. Workflows and task and workflow
// definitions are managed with sdk/workflow/executor on top of an
// APIClient.
//
// Every call takes a context. Construct one APIClient per server and share
// it: it is safe for concurrent use and keeps connections alive.
//
// Behaviour in short:
//
//   - Authentication: with a key id and secret, the client posts them to
//     {BaseUrl}/token and sends the answer as X-Authorization on every
//     request. The token is refreshed at 90% of its life (its JWT exp, else
//     WithTokenTTL), and once when the server answers 401, or 403 with error
//     EXPIRED_TOKEN/INVALID_TOKEN, after which the request is sent once
//     more. Concurrent callers share one refresh. A failed refresh fails the
//     call; nothing is ever sent without the token. Without credentials no
//     token is requested (Conductor OSS).
//   - The token goes only to the BaseUrl's origin: redirects to another
//     host, port or scheme lose it.
//   - Retries: see RetryPolicy. Whether a failed call is resent comes from
//     the SDK's one failure table (call kind x answer: retry, retry a few times, give
//     up, misconfigured), which also honours Conductor's "retryable" flag;
//     RELIABILITY.md's "Failure model" spells it out per call. Calls that
//     may do their work twice (starting a workflow, registering a workflow
//     definition, adding a log line, update-v2, update by reference name)
//     are resent only when the request cannot have been applied.
//   - Deadlines: each request gets HttpSettings.Timeout; a batch poll gets
//     its long-poll timeout on top.
//   - Errors: non-2xx answers are *APIError, matched with errors.Is against
//     ErrNotFound, ErrUnauthorized, ErrConflict and ErrBadRequest; answers
//     that cannot be decoded match ErrDecode (a poll answer some of whose
//     tasks could not be decoded is a *TaskDecodeError naming them, while
//     the others are returned), oversized ones ErrResponseTooLarge
//     (WithMaxResponseBytes, default 32 MiB); a failed token request says
//     so and wraps the token request's error (matching ErrUnauthorized when
//     the server refused the key).
//   - The key secret and the token never appear in errors or log lines, and
//     printing an APIClient or the settings shows neither.
package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/clientwire"
	"github.com/baton-go/baton/internal/retry"
	"github.com/baton-go/baton/sdk/settings"
)

// Defaults of the client's options.
const (
	// maxResponseBytesDefault caps the size of an answer body.
	maxResponseBytesDefault = 32 << 20
	// tokenTTLDefault is how long a token is trusted when it carries no
	// readable expiry of its own.
	tokenTTLDefault = 45 * time.Minute
	// maxIdleConnsPerHost keeps enough connections alive for many
	// concurrent pollers and reporters.
	maxIdleConnsPerHost = 128
)

// DefaultRetryPolicy returns the retry policy used unless WithRetryPolicy
// replaces it: 5 attempts, waits from 100 ms growing to at most 5 s. (A
// function, not a variable, so that no caller can change it for everyone.)
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: 5 * time.Second}
}

// maxRetryAfter is the longest Retry-After the client waits for inside a
// call; a server asking for more gets its error returned at once (with
// APIError.RetryAfter set) so that the caller decides.
const maxRetryAfter = time.Minute

// userAgent identifies the SDK to the server (resty would send its own).
const userAgent = "baton-go"

// RetryPolicy bounds the retries of one call. MaxAttempts counts the first
// attempt; 1 means no retry. The wait before attempt n+1 is a random value
// between half and all of BaseDelay*2^(n-1), capped at MaxDelay, or the
// server's Retry-After when it asked for longer (up to one minute; a longer
// Retry-After ends the call with the server's error).
//
// What is retried: connection failures, 429, 502, 503 and 504. A call that
// is not idempotent (starting a workflow, registering a workflow definition,
// adding a log line) is retried only when the request cannot have been
// acted on: the connection was refused, or the server answered 429 or 503.
// Other 4xx answers and 500 are never retried.
type RetryPolicy struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
}

// Observer is told about every HTTP exchange and token refresh, for metrics.
// endpoint is the route template (e.g. "/tasks/poll/batch/{taskType}"), never
// a path with ids in it; token requests are reported as "/token". statusCode
// is 0 when no answer came; d is the time of that one exchange (a retried
// call reports each attempt). Methods may be called from any goroutine, at
// the same time, and must not block.
type Observer interface {
	RequestDone(endpoint, method string, statusCode int, d time.Duration)
	TokenRefreshed(err error)
}

type nopObserver struct{}

func (nopObserver) RequestDone(string, string, int, time.Duration) {}
func (nopObserver) TokenRefreshed(error)                           {}

// Option configures an APIClient.
type Option func(*options)

type options struct {
	logger   logrus.FieldLogger
	hc       *http.Client
	observer Observer
	retry    RetryPolicy
	tokenTTL time.Duration
	maxBytes int64
	// payload: WithPayloadThresholds (payloadSet), else the defaults.
	payload    PayloadThresholds
	payloadSet bool
}

// WithLogger sets the logger (default: a new logger at warn level).
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// WithHTTPClient sets the underlying HTTP client, e.g. httptest's. Its
// transport is used as it is, so HttpSettings.TLS must then be empty (New
// says so otherwise). The client is copied: its redirect policy is wrapped so
// that the token never follows a redirect to another origin, its cookie jar
// dropped, and its Timeout cleared (each request gets its own deadline, long
// polls a longer one).
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithObserver reports requests and token refreshes (e.g. to metrics).
func WithObserver(obs Observer) Option { return func(o *options) { o.observer = obs } }

// WithRetryPolicy replaces DefaultRetryPolicy().
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithTokenTTL sets how long a token without a readable expiry is used
// (default 45 minutes).
func WithTokenTTL(d time.Duration) Option { return func(o *options) { o.tokenTTL = d } }

// WithMaxResponseBytes caps answer bodies (default 32 MiB).
func WithMaxResponseBytes(n int64) Option { return func(o *options) { o.maxBytes = n } }

// APIClient talks to one Conductor server. Build it with NewAPIClient or New.
//
// Its state sits behind a pointer, so that printing an APIClient in any
// form (%v, %+v, %#v, a value or a pointer) shows addresses and String's
// summary, never the key secret or the headers it holds.
type APIClient struct {
	*clientState
	// link gives the SDK's other packages the base URL, a task client
	// without retries and the workflow and metadata calls
	// (internal/clientwire); it adds nothing to the public API.
	link
}

// clientState is what an APIClient holds.
type clientState struct {
	base     string   // BaseUrl without trailing slash
	basePath string   // the path of base, e.g. "/api": errors name requests with it
	baseURL  *url.URL // parsed BaseUrl: the only origin that gets the token
	rc       *resty.Client
	hc       *http.Client // rc's http.Client
	header   http.Header  // headers of every request but the token and Content-Type; never modified after New
	timeout  time.Duration
	log      logrus.FieldLogger
	obs      Observer
	retry    RetryPolicy
	tokens   *tokenSource // nil without authentication
	initErr  error
	secret   string
	payload  PayloadThresholds // payload.go
	// bodyBufs are read buffers for answers of unknown length (readBody).
	bodyBufs sync.Pool
}

// link is an unexported name for clientwire.Link, so that the embedded
// field is unexported too.
type link = clientwire.Link

// linked sets c's clientwire.Link.
func (c *APIClient) linked() *APIClient {
	c.link = clientwire.NewLink(func() string { return c.base }, func() any { return c.Tasks().withoutRetries() },
		c.workflows(), c.metadata())
	return c
}

// NewAPIClient returns a client for the server described by httpSettings,
// authenticating with authSettings when they hold a key (nil or empty: no
// authentication, as for Conductor OSS). Invalid settings do not panic: every
// call returns the validation error. Use New to get that error at once.
func NewAPIClient(authSettings *settings.AuthenticationSettings, httpSettings *settings.HttpSettings, opts ...Option) *APIClient {
	c, err := New(authSettings, httpSettings, opts...)
	if err != nil {
		return (&APIClient{clientState: &clientState{initErr: err, log: c.log, obs: nopObserver{}}}).linked()
	}
	return c
}

// New is NewAPIClient returning the settings' validation error.
func New(authSettings *settings.AuthenticationSettings, httpSettings *settings.HttpSettings, opts ...Option) (*APIClient, error) {
	o := options{retry: DefaultRetryPolicy(), tokenTTL: tokenTTLDefault, maxBytes: maxResponseBytesDefault}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		o.logger = l
	}
	if o.observer == nil {
		o.observer = nopObserver{}
	}
	c := (&APIClient{clientState: &clientState{log: o.logger, obs: o.observer}}).linked()
	if err := httpSettings.Validate(); err != nil {
		return c, err
	}
	if err := authSettings.Validate(); err != nil {
		return c, err
	}
	if o.retry.MaxAttempts < 1 {
		return c, fmt.Errorf("client: RetryPolicy.MaxAttempts must be >= 1, got %d", o.retry.MaxAttempts)
	}
	if o.retry.BaseDelay < 0 || o.retry.MaxDelay < 0 {
		return c, fmt.Errorf("client: RetryPolicy delays must be >= 0, got BaseDelay %s and MaxDelay %s", o.retry.BaseDelay, o.retry.MaxDelay)
	}
	if o.maxBytes <= 0 {
		return c, fmt.Errorf("client: MaxResponseBytes must be > 0, got %d", o.maxBytes)
	}
	if o.tokenTTL <= 0 {
		return c, fmt.Errorf("client: TokenTTL must be > 0, got %s", o.tokenTTL)
	}
	if !o.payloadSet {
		o.payload = DefaultPayloadThresholds()
	}
	pt, err := envPayloadThresholds(o.payload)
	if err != nil {
		return c, err
	}
	c.payload = pt
	u, _ := url.Parse(httpSettings.BaseUrl)
	c.base = strings.TrimRight(httpSettings.BaseUrl, "/")
	c.baseURL = u
	c.basePath = strings.TrimRight(u.EscapedPath(), "/")
	if !strings.HasSuffix(c.base, "/api") {
		// Every Conductor route lives under /api; a BaseUrl without it is the
		// most common set-up mistake and otherwise shows only as 404s.
		o.logger.WithField("baseUrl", c.base).Warn("conductor BaseUrl does not end in /api; requests will go to " + c.base + "/tasks/...")
	}
	c.timeout = httpSettings.Timeout
	if c.timeout == 0 {
		c.timeout = settings.DefaultRequestTimeout
	}
	c.retry = o.retry
	c.header = http.Header{}
	c.header.Set("Accept", "application/json")
	c.header.Set("User-Agent", userAgent)
	for k, v := range httpSettings.Headers {
		c.header.Set(k, v)
	}

	hc := o.hc
	if hc != nil && tlsConfigured(httpSettings.TLS) {
		// Silently ignoring certificates the user configured could mean
		// trusting a server they meant to pin, or no client certificate.
		return c, errors.New("client: HttpSettings.TLS cannot be combined with WithHTTPClient; configure the TLS of that client's transport instead")
	}
	if hc == nil {
		tr, err := transport(httpSettings.TLS)
		if err != nil {
			return c, err
		}
		hc = &http.Client{Transport: tr}
	} else {
		cp := *hc
		hc = &cp
	}
	hc.CheckRedirect = keepTokenAtHome(c.baseURL, hc.CheckRedirect)
	hc.Jar = nil
	// Deadlines come from each request's context; a client-wide timeout
	// would also cut long polls short.
	hc.Timeout = 0

	rc := resty.NewWithClient(hc)
	rc.SetLogger(o.logger)
	rc.SetResponseBodyLimit(int(o.maxBytes))
	rc.SetRetryCount(0)
	c.rc = rc
	c.hc = rc.GetClient()

	if authSettings.Enabled() {
		c.secret = authSettings.KeySecret()
		c.tokens = newTokenSource(c, authSettings, o.tokenTTL)
	}
	return c, nil
}

// keepTokenAtHome wraps a redirect policy so that the token is only sent to
// the configured origin: a redirect to another host, port or scheme (an
// https -> http downgrade included) drops X-Authorization. Go itself drops
// only Authorization, WWW-Authenticate and Cookie.
func keepTokenAtHome(home *url.URL, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !strings.EqualFold(req.URL.Host, home.Host) || !strings.EqualFold(req.URL.Scheme, home.Scheme) {
			req.Header.Del(authHeader)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("client: stopped after 10 redirects")
		}
		return nil
	}
}

func tlsConfigured(t settings.TLSSettings) bool {
	return t.CAFile != "" || len(t.CAPEM) > 0 || t.ClientCertFile != "" || t.ClientKeyFile != "" ||
		len(t.ClientCertPEM) > 0 || len(t.ClientKeyPEM) > 0 || t.InsecureSkipVerify || t.ServerName != ""
}

func transport(t settings.TLSSettings) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxIdleConnsPerHost
	tr.MaxIdleConns = 4 * maxIdleConnsPerHost
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in only
	if t.CAFile != "" || len(t.CAPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("settings: TLS.CAFile %q cannot be read: %w", t.CAFile, err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("settings: TLS.CAFile %q holds no PEM certificate", t.CAFile)
			}
		}
		if len(t.CAPEM) > 0 && !pool.AppendCertsFromPEM(t.CAPEM) {
			return nil, errors.New("settings: TLS.CAPEM holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.ClientCertFile != "":
		cert, err := tls.LoadX509KeyPair(t.ClientCertFile, t.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("settings: TLS.ClientCertFile %q / ClientKeyFile %q: %w", t.ClientCertFile, t.ClientKeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case len(t.ClientCertPEM) > 0:
		cert, err := tls.X509KeyPair(t.ClientCertPEM, t.ClientKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("settings: TLS.ClientCertPEM / ClientKeyPEM: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = cfg
	return tr, nil
}

// Tasks returns the task API.
func (c *APIClient) Tasks() *TaskClient { return &TaskClient{c: c, retry: true} }

// workflows returns the workflow API, which sdk/workflow/executor exposes.
func (c *APIClient) workflows() *workflowClient { return &workflowClient{c: c} }

// metadata returns the metadata API, which sdk/workflow/executor exposes.
func (c *APIClient) metadata() *metadataClient { return &metadataClient{c: c} }

// err returns the settings' validation error of a client built with
// NewAPIClient, nil when the client is usable.
func (c *APIClient) err() error {
	if c == nil {
		return errNilClient
	}
	return c.initErr
}

var errNilClient = errors.New("client: APIClient is nil; build it with client.New or client.NewAPIClient")

// CloseIdleConnections closes the kept-alive connections (and so their
// transport goroutines), e.g. when the client is no longer needed. The
// client stays usable: later calls open new connections.
func (c *APIClient) CloseIdleConnections() {
	if c != nil && c.hc != nil {
		c.hc.CloseIdleConnections()
	}
}

const authHeader = "X-Authorization"

// call describes one API call.
type call struct {
	method     string
	route      string            // template relative to the base, e.g. "/tasks/{taskId}"
	pathParams map[string]string // values for the template
	query      url.Values
	body       []byte // JSON unless contentType says otherwise
	ctype      string
	extra      time.Duration // added to the request timeout (long polls)
	retry      bool          // use the retry policy
	// idempotent: safe to resend after the request may have reached the
	// server. Polls count as such: a resent poll cannot duplicate work, and
	// tasks handed to a lost answer come back after their timeouts either way.
	idempotent bool
}

// callKind is the column of the failure table (retry.Decide) for the client's
// own retries: idempotent calls are reads (polls and results included: the
// worker, which retries those itself, reads their own columns), the others
// writes.
func (cl call) callKind() retry.Kind {
	if !cl.idempotent {
		return retry.Write
	}
	return retry.Read
}

// response is what do hands back on a 2xx answer.
type response struct {
	status int
	body   []byte
	ctype  string
	// endpoint names the request in errors: method and path as sent, e.g.
	// "GET /api/tasks/poll/batch/greet" (see APIClient.endpoint).
	endpoint string
}

// where names the request of r in an error; a response built without an
// endpoint (in tests) falls back to the route template.
func (r *response) where(cl call) string {
	if r.endpoint != "" {
		return r.endpoint
	}
	return cl.method + " " + cl.route
}

// endpoint names a request in errors the way *APIError does: the method and
// the path as sent, base path and ids included ("GET
// /api/tasks/poll/batch/greet"), so that every error of the client points
// at a request the same way. Metrics keep the route template instead.
func (c *APIClient) endpoint(cl call) string {
	return cl.method + " " + c.basePath + expandRoute(cl.route, cl.pathParams)
}

func jsonBody(v interface{}) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the request body: %w", err)
	}
	return b, nil
}

// do sends the call, retrying per policy, and turns non-2xx answers into
// *APIError.
func (c *APIClient) do(ctx context.Context, cl call) (*response, error) {
	if err := c.err(); err != nil {
		return nil, err
	}
	if ctx == nil {
		return nil, errors.New("client: context must not be nil")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	attempts := 1
	if cl.retry {
		attempts = c.retry.MaxAttempts
	}
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, cl)
		if err == nil {
			return resp, nil
		}
		if attempt >= attempts || ctx.Err() != nil {
			return nil, err
		}
		wait, again := c.shouldRetry(cl, err, attempt)
		if !again {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// The caller's deadline ends before the next attempt could start.
			return nil, err
		}
		c.log.WithFields(logrus.Fields{"endpoint": cl.route, "method": cl.method, "attempt": attempt, "wait": wait}).
			Debugf("conductor request failed, retrying: %v", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// shouldRetry decides whether err is worth another attempt and how long to
// wait first: the failure table (retry.Decide) says whether; the policy and the
// server's Retry-After how long.
func (c *APIClient) shouldRetry(cl call, err error, attempt int) (time.Duration, bool) {
	if v := retry.Decide(cl.callKind(), err); v != retry.Always && v != retry.Few {
		return 0, false
	}
	wait := backoff(c.retry, attempt)
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		if apiErr.RetryAfter > maxRetryAfter {
			return 0, false
		}
		if apiErr.RetryAfter > wait {
			wait = apiErr.RetryAfter
		}
	}
	return wait, true
}

func backoff(p RetryPolicy, attempt int) time.Duration {
	ceiling := p.BaseDelay << min(attempt-1, 20)
	if ceiling > p.MaxDelay || ceiling <= 0 {
		ceiling = p.MaxDelay
	}
	if ceiling <= 0 {
		return 0
	}
	// Full jitter, with a floor of half so retries still spread out.
	return ceiling/2 + rand.N(ceiling/2+1)
}

// attempt sends the call once, refreshing the token and re-sending once when
// the server says the token is no longer good.
func (c *APIClient) attempt(ctx context.Context, cl call) (*response, error) {
	token := ""
	if c.tokens != nil {
		var err error
		if token, err = c.tokens.get(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := c.send(ctx, cl, token)
	var apiErr *APIError
	if c.tokens != nil && errors.As(err, &apiErr) && tokenRejected(apiErr) {
		if token, err = c.tokens.refresh(ctx, token); err != nil {
			return nil, err
		}
		return c.send(ctx, cl, token)
	}
	return resp, err
}

func tokenRejected(e *APIError) bool {
	if e.StatusCode == http.StatusUnauthorized {
		return true
	}
	return e.StatusCode == http.StatusForbidden && (e.Code == "EXPIRED_TOKEN" || e.Code == "INVALID_TOKEN")
}

// exchange is one HTTP answer as resty read it.
type exchange struct {
	status int
	header http.Header
	body   []byte
	path   string // the request's URL path (ids included), for APIError
}

// send makes one HTTP exchange through resty, within the call's deadline,
// reports it to the observer and maps answers and failures to results and
// errors.
func (c *APIClient) send(ctx context.Context, cl call, token string) (*response, error) {
	start := time.Now()
	// The request's own deadline, unless the caller's comes first anyway
	// (the worker gives every poll and update attempt a shorter one): then
	// a second context and timer per request would change nothing.
	if dl, ok := ctx.Deadline(); !ok || dl.Sub(start) > c.timeout+cl.extra {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout+cl.extra)
		defer cancel()
	}
	var ex exchange
	var err error
	ex, err = c.sendResty(ctx, cl, token)
	elapsed := time.Since(start)
	if err != nil {
		c.obs.RequestDone(cl.route, cl.method, 0, elapsed)
		if errors.Is(err, resty.ErrResponseBodyTooLarge) {
			return nil, fmt.Errorf("%w: %s", ErrResponseTooLarge, c.endpoint(cl))
		}
		return nil, fmt.Errorf("conductor: %s: %w", c.endpoint(cl), c.scrub(err, token))
	}
	c.obs.RequestDone(cl.route, cl.method, ex.status, elapsed)
	if ex.status < 200 || ex.status > 299 {
		e := c.apiError(cl, ex.status, ex.path, ex.header.Get("Retry-After"), ex.body, token)
		e.ContentType = ex.header.Get("Content-Type")
		return nil, e
	}
	return &response{status: ex.status, body: ex.body, ctype: ex.header.Get("Content-Type"), endpoint: c.endpoint(cl)}, nil
}

// sendResty makes the exchange through resty.
func (c *APIClient) sendResty(ctx context.Context, cl call, token string) (exchange, error) {
	req := c.rc.R().SetContext(ctx)
	req.Header = c.requestHeader(cl, token)
	if cl.pathParams != nil {
		req.SetPathParams(cl.pathParams)
	}
	if cl.query != nil {
		req.SetQueryParamsFromValues(cl.query)
	}
	if cl.body != nil {
		// A reader, not the bytes: resty copies a []byte body twice (into
		// a pooled buffer, then into a new one per request), while
		// net/http sends a *bytes.Reader as it is, with its length.
		req.SetBody(bytes.NewReader(cl.body))
	}
	// The answer's body is read here rather than by resty: resty reads it
	// in 512-byte steps into a slice grown by append (a 100-task poll
	// answer cost about three times its size in garbage), and matches the
	// content type against a regular expression to decide whether to
	// parse it, which it never needs to here.
	req.SetDoNotParseResponse(true)
	res, err := req.Execute(cl.method, c.base+cl.route)
	if err != nil {
		if res != nil && res.RawResponse != nil {
			_ = res.RawResponse.Body.Close()
		}
		return exchange{}, err
	}
	raw := res.RawResponse
	body, err := readBody(raw, int64(c.rc.ResponseBodyLimit), &c.bodyBufs)
	_ = raw.Body.Close()
	if err != nil {
		return exchange{}, err
	}
	return exchange{status: raw.StatusCode, header: raw.Header, body: body, path: raw.Request.URL.Path}, nil
}

// readBody reads an answer's body, at most limit bytes (more is
// resty.ErrResponseBodyTooLarge, as resty's own limit reports it), into one
// buffer sized from Content-Length when the server sent one. A body the
// transport left compressed (a caller-set Accept-Encoding) is inflated, as
// resty does.
//
// bufs, when not nil, holds reusable read buffers (*bytes.Buffer).
func readBody(res *http.Response, limit int64, bufs *sync.Pool) ([]byte, error) {
	var r io.Reader = res.Body
	n := res.ContentLength
	if strings.EqualFold(res.Header.Get("Content-Encoding"), "gzip") && n != 0 {
		if _, ok := res.Body.(*gzip.Reader); !ok {
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				return nil, err
			}
			defer zr.Close()
			r, n = zr, -1
		}
	}
	if limit <= 0 {
		limit = math.MaxInt64 - 1
	}
	if n > limit {
		return nil, resty.ErrResponseBodyTooLarge
	}
	if n == 0 && res.Body == http.NoBody {
		// resty answered an empty body with an empty, non-nil slice.
		return []byte{}, nil
	}
	if n > 0 {
		// net/http hands over exactly Content-Length bytes, and its last
		// read reports EOF with the data, which frees the connection for
		// the next request. A RoundTripper of the caller's may announce
		// less than it sends: what follows is read too, as resty did.
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		var one [1]byte
		m, err := r.Read(one[:])
		if m == 0 && err == io.EOF {
			return buf, nil
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		rest, err := io.ReadAll(io.LimitReader(r, limit-n))
		if err != nil {
			return nil, err
		}
		buf = append(append(buf, one[:m]...), rest...)
		if int64(len(buf)) > limit {
			return nil, resty.ErrResponseBodyTooLarge
		}
		return buf, nil
	}
	// Length unknown (Conductor sends poll answers chunked): read into a
	// pooled buffer, which has long grown to the usual size, and return a
	// copy of exactly the body's length. The copy is the caller's: decoded
	// strings may point into it.
	var pb *bytes.Buffer
	if bufs != nil {
		pb, _ = bufs.Get().(*bytes.Buffer)
	}
	if pb == nil {
		pb = new(bytes.Buffer)
	}
	defer func() {
		if bufs != nil && pb.Cap() <= maxPooledBody {
			pb.Reset()
			bufs.Put(pb)
		}
	}()
	if _, err := pb.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, err
	}
	if int64(pb.Len()) > limit {
		return nil, resty.ErrResponseBodyTooLarge
	}
	return append(make([]byte, 0, pb.Len()), pb.Bytes()...), nil
}

// maxPooledBody: a read buffer grown larger than this (a large payload) is
// left to the garbage collector rather than kept in APIClient.bodyBufs.
const maxPooledBody = 1 << 20

// requestHeader returns the headers of one request: Accept, User-Agent,
// the configured headers, the token and, with a body, its Content-Type. It
// also applies resty's two defaults for headers configured empty (its own
// User-Agent; an Accept equal to a JSON or XML Content-Type) itself, so the
// request's headers are all decided in this one place.
func (c *APIClient) requestHeader(cl call, token string) http.Header {
	h := c.header.Clone()
	if token != "" {
		h.Set(authHeader, token)
	}
	if cl.body != nil {
		ct := cl.ctype
		if ct == "" {
			ct = "application/json"
		}
		h.Set("Content-Type", ct)
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "go-resty/"+resty.Version+" (https://github.com/go-resty/resty)")
	}
	if h.Get("Accept") == "" {
		if ct := h.Get("Content-Type"); ct != "" && (resty.IsJSONType(ct) || resty.IsXMLType(ct)) {
			h.Set("Accept", ct)
		}
	}
	return h
}

// scrub removes the secret and the token from an error, in case a transport
// error quotes a URL or body that contains them. An error that needs no
// change is returned as it is, so errors.Is/As keep working.
func (c *APIClient) scrub(err error, token string) error {
	msg := err.Error()
	if red := c.redact(msg, token); red != msg {
		return errors.New(red)
	}
	return err
}

// redact replaces the key secret and the token in s.
func (c *APIClient) redact(s, token string) string {
	for _, v := range []string{c.secret, token} {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

const maxErrorBody = 4 << 10

// apiError builds the error of a non-2xx answer from its status, the
// request's path, its Retry-After header and its body.
func (c *APIClient) apiError(cl call, status int, path, retryAfter string, body []byte, token string) *APIError {
	// Redact before cutting, so that a secret across the cut cannot leave
	// a readable prefix behind.
	if limit := maxErrorBody + len(c.secret) + len(token); len(body) > limit {
		body = body[:limit]
	}
	body = []byte(c.redact(string(body), token))
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	e := &APIError{StatusCode: status, Method: cl.method, Path: path, Body: body}
	var eb struct {
		Message          string            `json:"message"`
		Error            string            `json:"error"`
		ValidationErrors []ValidationError `json:"validationErrors"`
		Retryable        *bool             `json:"retryable"`
	}
	if json.Unmarshal(body, &eb) == nil {
		e.ServerRetryable = eb.Retryable
		e.Message = eb.Message
		e.Code = eb.Error
		e.ValidationErrors = eb.ValidationErrors
		if e.Message == "" {
			e.Message = eb.Error
		}
		// The server's message for a validation failure is generic ("check
		// below errors"); the field and the reason are in the list, so the
		// error text names them.
		for i, v := range eb.ValidationErrors {
			if i == 3 {
				e.Message += fmt.Sprintf("; and %d more", len(eb.ValidationErrors)-3)
				break
			}
			sep := "; "
			if i == 0 {
				sep = ": "
			}
			e.Message += sep + v.Path + ": " + v.Message
			if v.InvalidValue != nil {
				e.Message += fmt.Sprintf(" (got %v)", v.InvalidValue)
			}
		}
	} else {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
	}
	e.Message = c.redact(e.Message, token)
	e.RetryAfter = parseRetryAfter(retryAfter, time.Now())
	return e
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		// Cap before multiplying: a huge value must not overflow into a
		// negative duration. A day is far beyond maxRetryAfter anyway.
		return time.Duration(min(secs, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// callJSON sends cl and decodes its JSON answer into a value that starts as
// init: an empty or null answer gives init back, so that an empty slice or
// map stays non-nil. The client's calls that read an answer go through it.
func callJSON[T any](ctx context.Context, c *APIClient, cl call, init T) (T, error) {
	resp, err := c.do(ctx, cl)
	if err != nil {
		return init, err
	}
	out := init
	if err := decodeJSON(cl, resp, &out); err != nil {
		return init, err
	}
	return out, nil
}

// decodeJSON decodes a JSON answer into v; an empty or null body leaves v
// alone.
func decodeJSON(cl call, r *response, v interface{}) error {
	if b := bytes.TrimSpace(r.body); len(b) == 0 || string(b) == "null" {
		return nil
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return &retry.DecodeError{Endpoint: r.where(cl), ContentType: r.ctype, Err: err}
	}
	return nil
}

// text returns a text/plain answer (an id). Servers that answer JSON strings
// are tolerated.
func text(r *response) string {
	s := strings.TrimSpace(string(r.body))
	if len(s) >= 2 && s[0] == '"' {
		var unq string
		if json.Unmarshal([]byte(s), &unq) == nil {
			return strings.TrimSpace(unq)
		}
	}
	return s
}

// String describes the client without its credentials.
func (c *APIClient) String() string {
	if c == nil {
		return "APIClient(nil)"
	}
	return fmt.Sprintf("APIClient{BaseURL: %q, Auth: %t}", c.base, c.tokens != nil)
}

// expandRoute fills the {name} placeholders of a route template with the
// path-escaped values of params; a placeholder without a value stays as it
// is (as in resty).
func expandRoute(route string, params map[string]string) string {
	if len(params) == 0 {
		return route
	}
	var b strings.Builder
	b.Grow(len(route) + 32)
	for {
		i := strings.IndexByte(route, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(route[i:], '}')
		if j < 0 {
			break
		}
		j += i
		b.WriteString(route[:i])
		if v, ok := params[route[i+1:j]]; ok {
			b.WriteString(url.PathEscape(v))
		} else {
			b.WriteString(route[i : j+1])
		}
		route = route[j+1:]
	}
	b.WriteString(route)
	return b.String()
}
