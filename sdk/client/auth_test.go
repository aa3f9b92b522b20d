package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

const testSecret = "sup3r-s3cret-value"

// authServer issues numbered tokens and accepts only the newest one.
type authServer struct {
	*httptest.Server
	issued    atomic.Int32
	current   atomic.Value // string
	inFlight  atomic.Int32
	maxFlight atomic.Int32
	tokenWait time.Duration
	answer    func(w http.ResponseWriter, r *http.Request)
}

func newAuthServer(t *testing.T) *authServer {
	s := &authServer{}
	s.current.Store("")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/token" {
			n := s.inFlight.Add(1)
			defer s.inFlight.Add(-1)
			for {
				m := s.maxFlight.Load()
				if n <= m || s.maxFlight.CompareAndSwap(m, n) {
					break
				}
			}
			var body struct{ KeyId, KeySecret string }
			_ = json.NewDecoder(r.Body).Decode(&body)
			if body.KeyId != "key" || body.KeySecret != testSecret {
				writeJSON(w, 401, map[string]string{"error": "INVALID_TOKEN", "message": "bad credentials"})
				return
			}
			time.Sleep(s.tokenWait)
			tok := fmt.Sprintf("tok-%d", s.issued.Add(1))
			s.current.Store(tok)
			writeJSON(w, 200, map[string]string{"token": tok})
			return
		}
		if got := r.Header.Get(authHeader); got == "" || got != s.current.Load().(string) {
			writeJSON(w, 401, map[string]string{"error": "EXPIRED_TOKEN", "message": "token expired"})
			return
		}
		if s.answer != nil {
			s.answer(w, r)
			return
		}
		writeJSON(w, 200, []model.Task{})
	}))
	t.Cleanup(s.Close)
	return s
}

func TestTokenIsFetchedOnceAndSent(t *testing.T) {
	s := newAuthServer(t)
	c := newClient(t, s.URL, settings.NewAuthenticationSettings("key", testSecret))
	for i := 0; i < 5; i++ {
		if _, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.issued.Load(); n != 1 {
		t.Fatalf("%d tokens issued for 5 requests, want 1", n)
	}
}

func TestNoTokenRequestWithoutAuth(t *testing.T) {
	s := newAuthServer(t)
	c := newClient(t, s.URL, settings.NewAuthenticationSettings("", ""))
	_, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want the server's 401", err)
	}
	if s.issued.Load() != 0 {
		t.Fatal("a token was requested without credentials")
	}
}

func TestConcurrent401sShareOneRefresh(t *testing.T) {
	s := newAuthServer(t)
	s.tokenWait = 20 * time.Millisecond
	c := newClient(t, s.URL, settings.NewAuthenticationSettings("key", testSecret))
	if _, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1}); err != nil {
		t.Fatal(err)
	}
	// The server forgets the token: every request now sees a 401.
	s.current.Store("revoked")
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Tasks().withoutRetries().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("request failed after refresh: %v", err)
		}
	}
	if n := s.issued.Load(); n != 2 {
		t.Fatalf("%d tokens issued, want 2 (the first and exactly one refresh)", n)
	}
	if m := s.maxFlight.Load(); m != 1 {
		t.Fatalf("%d token requests in flight at once, want 1", m)
	}
}

// TestLateRefreshAfterAnotherRefreshReusesItsToken is the interleaving
// behind a CI failure of TestConcurrent401sShareOneRefresh: caller B got its
// 401 on tok-1 and set out to refresh just as caller A's refresh of tok-1 ended
// (and left the shared flight). B must take A's tok-2, not fetch a tok-3: the
// server keeps only its newest token, so a tok-3 would turn A's resend with
// tok-2 into a second 401 and a failed request.
func TestLateRefreshAfterAnotherRefreshReusesItsToken(t *testing.T) {
	s := newAuthServer(t)
	c := newClient(t, s.URL, settings.NewAuthenticationSettings("key", testSecret))
	ctx := context.Background()
	first, err := c.tokens.get(ctx)
	if err != nil {
		t.Fatal(err)
	}

	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	c.tokens.beforeFlight = func() {
		if calls.Add(1) == 1 { // B: held at the door until A is done
			close(entered)
			<-release
		}
	}
	type answer struct {
		tok string
		err error
	}
	late := make(chan answer, 1)
	go func() {
		tok, err := c.tokens.refresh(ctx, first)
		late <- answer{tok, err}
	}()
	<-entered
	fresh, err := c.tokens.refresh(ctx, first) // A
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	b := <-late
	if b.err != nil {
		t.Fatal(b.err)
	}
	if b.tok != fresh {
		t.Fatalf("the late caller got %q, want the token the other refresh fetched (%q)", b.tok, fresh)
	}
	if n := s.issued.Load(); n != 2 {
		t.Fatalf("%d tokens issued, want 2 (the first and one refresh)", n)
	}
}

func jwt(exp time.Time) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(map[string]interface{}{"exp": exp.Unix()})
	return enc.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + enc.EncodeToString(payload) + ".sig"
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time      { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) add(d time.Duration) { f.mu.Lock(); f.t = f.t.Add(d); f.mu.Unlock() }

func TestTokenRefreshAheadOfExpiry(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	tests := []struct {
		name  string
		token func() string // what /token answers
		ttl   time.Duration
		early time.Duration // still the first token at this age
		late  time.Duration // refreshed at this age
	}{
		// A JWT living 100 s is refreshed at 90% of its life.
		{"jwt exp", func() string { return jwt(clock.now().Add(100 * time.Second)) }, time.Hour, 89 * time.Second, 91 * time.Second},
		// An opaque token lives for the TTL option.
		{"opaque token uses the TTL", func() string { return "opaque" }, 10 * time.Minute, 8 * time.Minute, 9*time.Minute + time.Second},
		// A readable exp wins over the TTL, also when it is longer.
		{"jwt exp beats the ttl", func() string { return jwt(clock.now().Add(2 * time.Hour)) }, 10 * time.Minute, 100 * time.Minute, 109 * time.Minute},
		// An exp centuries away must not overflow into "always refresh".
		{"far exp", func() string { return jwt(clock.now().Add(40 * 8760 * time.Hour)) }, 10 * time.Minute, 1000 * time.Hour, 37 * 8760 * time.Hour},
		// An exp already past by our clock (skew) falls back to the TTL.
		{"past exp uses the ttl", func() string { return jwt(clock.now().Add(-time.Minute)) }, 10 * time.Minute, 8 * time.Minute, 9*time.Minute + time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var issued atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api/token" {
					issued.Add(1)
					writeJSON(w, 200, map[string]string{"token": tc.token()})
					return
				}
				writeJSON(w, 200, []model.Task{})
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, settings.NewAuthenticationSettings("key", testSecret), WithTokenTTL(tc.ttl))
			c.tokens.now = clock.now
			start := clock.now()
			poll := func() {
				t.Helper()
				if _, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1}); err != nil {
					t.Fatal(err)
				}
			}
			poll()
			clock.add(tc.early - clock.now().Sub(start))
			poll()
			if n := issued.Load(); n != 1 {
				t.Fatalf("%d tokens at age %v, want 1", n, tc.early)
			}
			clock.add(tc.late - clock.now().Sub(start))
			poll()
			if n := issued.Load(); n != 2 {
				t.Fatalf("%d tokens at age %v, want 2 (refreshed ahead of expiry)", n, tc.late)
			}
		})
	}
}

func TestJWTExpiry(t *testing.T) {
	exp := time.Unix(2000000000, 0)
	if got, ok := jwtExpiry(jwt(exp)); !ok || !got.Equal(exp) {
		t.Fatalf("jwtExpiry = %v %v", got, ok)
	}
	for _, tok := range []string{"opaque", "a.b.c", "a." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":"x"}`)) + ".c"} {
		if _, ok := jwtExpiry(tok); ok {
			t.Errorf("jwtExpiry(%q) ok", tok)
		}
	}
}

func TestSecretNeverInLogsOrErrors(t *testing.T) {
	var logs bytes.Buffer
	logger := logrus.New()
	logger.SetOutput(&logs)
	logger.SetLevel(logrus.TraceLevel)

	// Wrong secret: the token request fails.
	s := newAuthServer(t)
	c := newClient(t, s.URL, settings.NewAuthenticationSettings("key", "wrong-"+testSecret), WithLogger(logger))
	_, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	texts := []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err)}

	// A server that echoes the request body (with the secret) in its error.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		writeJSON(w, 400, map[string]string{"message": "bad body: " + string(b)})
	}))
	defer echo.Close()
	c2 := newClient(t, echo.URL, settings.NewAuthenticationSettings("key", testSecret), WithLogger(logger))
	_, err = c2.Tasks().GetTask(context.Background(), "x")
	if err == nil {
		t.Fatal("expected an error")
	}
	texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		texts = append(texts, string(apiErr.Body), apiErr.Message)
	}

	// The server is down: transport errors.
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	c3 := newClient(t, url, settings.NewAuthenticationSettings("key", testSecret), WithLogger(logger))
	_, err = c3.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
	texts = append(texts, err.Error(), logs.String(), fmt.Sprintf("%v %+v %#v %v %+v %#v", c3, c3, c3, *c3, *c3, *c3))

	for _, s := range texts {
		if strings.Contains(s, testSecret) {
			t.Fatalf("the secret leaked into %q", s)
		}
	}
}

func TestTokenNotSentToAnotherHostOnRedirect(t *testing.T) {
	var leaked atomic.Value
	leaked.Store("")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get(authHeader))
		writeJSON(w, 200, []model.Task{})
	}))
	defer other.Close()
	// Same port space, different host name: 127.0.0.1 vs localhost.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	s := newAuthServer(t)
	s.answer = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+r.URL.Path, http.StatusTemporaryRedirect)
	}
	c := newClient(t, s.URL, settings.NewAuthenticationSettings("key", testSecret))
	if _, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1}); err != nil {
		t.Fatal(err)
	}
	if got := leaked.Load().(string); got != "" {
		t.Fatalf("the token %q was sent to another host after a redirect", got)
	}
	// A redirect on the same host keeps it.
	var kept atomic.Value
	kept.Store("")
	s.answer = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/moved" {
			kept.Store(r.Header.Get(authHeader))
			writeJSON(w, 200, []model.Task{})
			return
		}
		http.Redirect(w, r, "/api/moved", http.StatusTemporaryRedirect)
	}
	if _, err := c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1}); err != nil {
		t.Fatal(err)
	}
	if kept.Load().(string) == "" {
		t.Fatal("same-host redirect lost the token")
	}
}
