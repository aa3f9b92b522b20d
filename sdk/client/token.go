package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"

	"github.com/baton-go/baton/internal/retry"
	"github.com/baton-go/baton/sdk/settings"
)

// tokenSource holds the current token and refreshes it: ahead of its expiry,
// and when the server rejects it. Concurrent callers share one refresh.
type tokenSource struct {
	c     *APIClient
	keyID string
	// secret is read from the settings only when a token is requested.
	auth *settings.AuthenticationSettings
	ttl  time.Duration
	now  func() time.Time // time.Now; tests move it forward

	mu        sync.Mutex
	token     string
	refreshAt time.Time

	group   singleflight.Group // keyed by the stale token
	fetchMu sync.Mutex         // held by the one flight that fetches

	// beforeFlight, when set (tests only), runs as a caller enters refresh.
	beforeFlight func()
}

func newTokenSource(c *APIClient, auth *settings.AuthenticationSettings, ttl time.Duration) *tokenSource {
	return &tokenSource{c: c, keyID: auth.KeyId(), auth: auth, ttl: ttl, now: time.Now}
}

// get returns a token that is not due for refresh.
func (ts *tokenSource) get(ctx context.Context) (string, error) {
	ts.mu.Lock()
	tok, due := ts.token, ts.refreshAt
	ts.mu.Unlock()
	if tok != "" && ts.now().Before(due) {
		return tok, nil
	}
	return ts.refresh(ctx, tok)
}

// refresh replaces stale with a new token. When another caller already
// replaced it, the new one is returned without asking the server again.
//
// Callers that hold the same stale token share one flight. The flight looks
// at the current token only once it runs, under fetchMu: a caller that read
// the old token just before another flight replaced it (and was forgotten)
// would otherwise ask for a second token, and the server, which keeps only
// its newest, would refuse the one the other callers just resent.
func (ts *tokenSource) refresh(ctx context.Context, stale string) (string, error) {
	if ts.beforeFlight != nil {
		ts.beforeFlight()
	}
	ch := ts.group.DoChan(stale, func() (interface{}, error) {
		// One fetch at a time, across flights for different stale tokens.
		ts.fetchMu.Lock()
		defer ts.fetchMu.Unlock()
		ts.mu.Lock()
		if ts.token != "" && ts.token != stale && ts.now().Before(ts.refreshAt) {
			tok := ts.token
			ts.mu.Unlock()
			return tok, nil
		}
		ts.mu.Unlock()
		// Detached from the first caller's context, so that one caller
		// giving up does not fail the others waiting on the same refresh.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ts.c.timeout)
		defer cancel()
		tok, refreshAt, err := ts.fetch(fctx)
		ts.c.obs.TokenRefreshed(err)
		if err != nil {
			err = &retry.TokenError{Err: err}
			// Debug only: every caller gets the error, and a runner logs its
			// failed polls rate-limited with the worker's fields; a warning
			// here would repeat on every attempt through a logger the runner
			// does not control.
			ts.c.log.WithField("keyId", ts.keyID).Debugf("conductor token refresh failed: %v", err)
			return "", err
		}
		ts.c.log.WithFields(logrus.Fields{"keyId": ts.keyID, "refreshIn": refreshAt.Sub(ts.now()).Round(time.Second)}).
			Debug("conductor token refreshed")
		ts.mu.Lock()
		ts.token, ts.refreshAt = tok, refreshAt
		ts.mu.Unlock()
		return tok, nil
	})
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	}
}

// fetch asks the server for a token and works out when to refresh it: at
// 90% of its lifetime, the lifetime being the JWT's exp claim when readable
// and in the future, the configured TTL otherwise.
func (ts *tokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	body, err := json.Marshal(map[string]string{"keyId": ts.keyID, "keySecret": ts.auth.KeySecret()})
	if err != nil {
		return "", time.Time{}, err
	}
	cl := call{method: http.MethodPost, route: "/token", body: body}
	start := ts.now()
	resp, err := ts.c.send(ctx, cl, "")
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden) {
			// Both wrapped: errors.Is(err, ErrUnauthorized) for callers, and
			// the *APIError (status, path) for the runner's misconfiguration
			// check.
			return "", time.Time{}, fmt.Errorf("%w: the server refused key id %q: %w", ErrUnauthorized, ts.keyID, apiErr)
		}
		return "", time.Time{}, fmt.Errorf("conductor: token request failed: %w", err)
	}
	var tr struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(resp.body, &tr); err != nil || tr.Token == "" {
		return "", time.Time{}, fmt.Errorf("%w: the token answer has no token", ErrDecode)
	}
	// A token that cannot be sent as a header value would make every
	// request fail in the transport with a confusing error.
	if strings.ContainsFunc(tr.Token, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", time.Time{}, fmt.Errorf("%w: the token answer holds control characters", ErrDecode)
	}
	// The token's own exp wins; the TTL option is the fallback for opaque
	// tokens and for an exp already past by our clock (skew: the server
	// will say when it no longer accepts the token, and a 401 refreshes).
	lifetime := ts.ttl
	if exp, ok := jwtExpiry(tr.Token); ok {
		if d := exp.Sub(start); d > 0 {
			lifetime = d
		}
	}
	return tr.Token, start.Add(lifetime - lifetime/10), nil // no overflow for far-off exp
}

// jwtExpiry reads the exp claim of a JWT without checking its signature (the
// server checks it; the client only wants to know when to refresh).
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp float64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp <= 0 {
		return time.Time{}, false
	}
	sec := int64(claims.Exp)
	return time.Unix(sec, int64((claims.Exp-float64(sec))*1e9)), true
}
