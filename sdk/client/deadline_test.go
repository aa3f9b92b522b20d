package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/settings"
)

// TestRequestEndsAtTheEarlierOfItsTimeoutAndTheCallersDeadline: the client
// skips its own timeout context when the caller's deadline comes first;
// either way the request must end at the earlier of the two, never hang.
func TestRequestEndsAtTheEarlierOfItsTimeoutAndTheCallersDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	for _, c := range []struct {
		name            string
		clientTimeout   time.Duration
		callerDeadline  time.Duration
		wantCallerEnded bool
	}{
		{"client timeout first", 50 * time.Millisecond, time.Hour, false},
		{"caller deadline first", time.Hour, 50 * time.Millisecond, true},
		{"no caller deadline", 50 * time.Millisecond, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			hs := settings.NewHttpSettings(srv.URL + "/api")
			hs.Timeout = c.clientTimeout
			cl, err := New(nil, hs, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.CloseIdleConnections()
			ctx := context.Background()
			if c.callerDeadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.callerDeadline)
				defer cancel()
			}
			_, err = cl.Tasks().withoutRetries().BatchPoll(ctx, "t", PollOptions{Count: 1})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a deadline error", err)
			}
			if got := ctx.Err() != nil; got != c.wantCallerEnded {
				t.Fatalf("caller's context ended: %v, want %v", got, c.wantCallerEnded)
			}
		})
	}
}
