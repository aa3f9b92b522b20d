package conductortest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// authState implements the Orkes token flow. Tokens are JWT-shaped
// (header.payload.signature, HMAC-SHA256 with a per-server random key) so
// that clients that peek at "exp" work; the server itself only trusts the
// signature and the millisecond expiry inside.
type authState struct {
	keyID, secret string
	ttl           time.Duration
	signKey       []byte
	inflight      atomic.Int64
	maxInflight   atomic.Int64
	issued        atomic.Int64
	rejected      atomic.Int64
}

func newAuthState(keyID, secret string, ttl time.Duration) *authState {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &authState{keyID: keyID, secret: secret, ttl: ttl, signKey: k}
}

// enter counts a token request in flight; call the result when it ends.
func (a *authState) enter() func() {
	n := a.inflight.Add(1)
	for {
		m := a.maxInflight.Load()
		if n <= m || a.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	return func() { a.inflight.Add(-1) }
}

type tokenClaims struct {
	Sub   string `json:"sub"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	ExpMs int64  `json:"expMs"`
	Jti   string `json:"jti"`
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

func (a *authState) issue(now time.Time) string {
	exp := now.Add(a.ttl)
	claims, _ := json.Marshal(tokenClaims{
		Sub: a.keyID, Iat: now.Unix(), Exp: (exp.UnixMilli() + 999) / 1000, ExpMs: exp.UnixMilli(), Jti: newID(),
	})
	unsigned := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	return unsigned + "." + a.sign(unsigned)
}

func (a *authState) sign(s string) string {
	m := hmac.New(sha256.New, a.signKey)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// check returns "" for a valid token, else the Orkes error code.
func (a *authState) check(token string, now time.Time) (code, msg string) {
	if token == "" {
		return "INVALID_TOKEN", "Missing X-Authorization header"
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || !hmac.Equal([]byte(a.sign(parts[0]+"."+parts[1])), []byte(parts[2])) {
		return "INVALID_TOKEN", "Invalid token"
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c tokenClaims
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return "INVALID_TOKEN", "Invalid token"
	}
	if now.UnixMilli() >= c.ExpMs {
		return "EXPIRED_TOKEN", "Token has expired"
	}
	return "", ""
}

type authError struct {
	Status    int    `json:"status"`
	Error     string `json:"error"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

func (s *Server) serveAuthed(w http.ResponseWriter, r *http.Request, next http.Handler, group string) {
	if s.auth == nil || group == "token" || r.URL.Path == "/health" || r.URL.Path == "/actuator/health" {
		next.ServeHTTP(w, r)
		return
	}
	if code, msg := s.auth.check(r.Header.Get("X-Authorization"), s.now()); code != "" {
		s.auth.rejected.Add(1)
		s.writeJSON(w, http.StatusUnauthorized, authError{Status: http.StatusUnauthorized, Error: code, Message: msg})
		return
	}
	next.ServeHTTP(w, r)
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil {
		// Conductor OSS has no token endpoint.
		s.writeError(w, noResource(r))
		return
	}
	a := s.auth
	var req struct {
		KeyID     string `json:"keyId"`
		KeySecret string `json:"keySecret"`
	}
	if e := s.decode(r, &req); e != nil {
		s.writeError(w, e)
		return
	}
	okID := subtle.ConstantTimeCompare([]byte(req.KeyID), []byte(a.keyID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(req.KeySecret), []byte(a.secret)) == 1
	if !okID || !okSecret {
		s.writeJSON(w, http.StatusUnauthorized, authError{Status: http.StatusUnauthorized, Error: "INVALID_CREDENTIALS", Message: "Invalid key id or secret"})
		return
	}
	tok := a.issue(s.now())
	a.issued.Add(1)
	var buf bytes.Buffer
	buf.WriteString(`{"token":`)
	b, _ := json.Marshal(tok)
	buf.Write(b)
	buf.WriteByte('}')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
