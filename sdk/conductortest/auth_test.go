package conductortest_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/conductortest"
)

func TestAuth(t *testing.T) {
	a := newAPI(t, conductortest.WithAuth("key", "s3cret"), conductortest.WithTokenTTL(time.Hour))
	a.needLocal("token authentication (WithAuth)")
	if e := a.expect(401, "GET", "/tasks/poll/batch/x?timeout=0", nil).errBody(t); e.Error != "INVALID_TOKEN" {
		t.Fatalf("missing token: %+v", e)
	}
	a.token = "garbage"
	if e := a.expect(401, "GET", "/tasks/poll/batch/x?timeout=0", nil).errBody(t); e.Error != "INVALID_TOKEN" {
		t.Fatalf("bad token: %+v", e)
	}
	a.token = ""
	a.expect(401, "POST", "/token", map[string]string{"keyId": "key", "keySecret": "wrong"})
	var tok struct{ Token string }
	a.expect(200, "POST", "/token", map[string]string{"keyId": "key", "keySecret": "s3cret"}).json(t, &tok)
	if strings.Count(tok.Token, ".") != 2 {
		t.Fatalf("token %q is not JWT-shaped", tok.Token)
	}
	a.token = tok.Token
	a.expect(200, "GET", "/tasks/poll/batch/x?timeout=0", nil)
	// A token with a tampered signature is refused.
	a.token = tok.Token[:len(tok.Token)-2] + "xx"
	a.expect(401, "GET", "/tasks/poll/batch/x?timeout=0", nil)
	// Health needs no token.
	res, err := a.client.Get("http://" + a.srv.Addr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("health %d", res.StatusCode)
	}
	if st := a.srv.Stats(); st.TokensIssued != 1 || st.TokensRejected != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestExpiredToken(t *testing.T) {
	a := newAPI(t, conductortest.WithAuth("key", "s3cret"), conductortest.WithTokenTTL(50*time.Millisecond))
	a.needLocal("token authentication (WithAuth)")
	var tok struct{ Token string }
	a.expect(200, "POST", "/token", map[string]string{"keyId": "key", "keySecret": "s3cret"}).json(t, &tok)
	a.token = tok.Token
	var last errBody
	waitFor(t, "token expiry", func() bool {
		r := a.do("GET", "/tasks/poll/batch/x?timeout=0", nil)
		if r.status != 401 {
			return false
		}
		last = r.errBody(t)
		return true
	})
	if last.Error != "EXPIRED_TOKEN" {
		t.Fatalf("expired token answer %+v", last)
	}
}

func TestMaxConcurrentTokenRequests(t *testing.T) {
	a := newAPI(t, conductortest.WithAuth("key", "s3cret"))
	a.needLocal("token authentication (WithAuth)")
	// Slow token answers keep the requests in flight together.
	a.srv.SetFaults(conductortest.Faults{"token": {Latency: 500 * time.Millisecond}})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := a.client.Post(a.base+"/token", "application/json", strings.NewReader(`{"keyId":"key","keySecret":"s3cret"}`))
			if err == nil {
				res.Body.Close()
			}
		}()
	}
	waitFor(t, "3 token requests in flight", func() bool { return a.srv.Stats().TokenRequestsInFlight == 3 })
	wg.Wait()
	st := a.srv.Stats()
	if st.TokensIssued != 3 || st.MaxConcurrentTokenRequests != 3 || st.TokenRequestsInFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}
