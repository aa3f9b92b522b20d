package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/baton-go/baton/internal/retry"
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

// fatalRun starts one worker the way the original docs do (NewAPIClient,
// NewTaskRunnerWithApiClient, StartWorker) and waits for WaitWorkers to
// return, which a misconfigured worker must make happen on its own.
type fatalRun struct {
	r      *TaskRunner
	logs   *logtest.Hook
	hooked []error
}

func startMisconfigured(t *testing.T, auth *settings.AuthenticationSettings, hs *settings.HttpSettings) *fatalRun {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	fr := &fatalRun{logs: hook}
	var mu sync.Mutex
	// The runner's clock runs ten times as fast: the evidence rule's 15 s
	// of failed polls take 1.5 s of the test's time.
	fr.r = NewTaskRunnerWithApiClient(client.NewAPIClient(auth, hs), WithLogger(logger), withClock(newFastClock(10)), WithHooks(Hooks{
		OnFatalError: func(_ string, err error) {
			mu.Lock()
			fr.hooked = append(fr.hooked, err)
			mu.Unlock()
		},
	}))
	t.Cleanup(func() {
		if err := fr.r.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown after a fatal stop: %v", err)
		}
		fr.r.WaitWorkers()
	})
	if err := fr.r.StartWorker("greet", func(*model.Task) (interface{}, error) { return nil, nil }, 1, 10*time.Millisecond); err != nil {
		t.Fatalf("StartWorker: %v", err)
	}
	done := make(chan struct{})
	go func() { fr.r.WaitWorkers(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		// A guard against a hang, not a timing: the evidence rule needs
		// fatalSpan (15 s) of failed polls.
		t.Fatalf("WaitWorkers did not return within 90 s; workers: %+v", fr.r.Workers())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(fr.hooked) != 1 {
		t.Errorf("OnFatalError called %d times, want once", len(fr.hooked))
	}
	return fr
}

// check asserts what the user sees: Err names the URL and the fix, the log
// has exactly one error line saying the same, and the worker reports stopped.
func (fr *fatalRun) check(t *testing.T, wantInErr ...string) {
	t.Helper()
	err := fr.r.Err()
	if !errors.Is(err, ErrMisconfigured) {
		t.Fatalf("Err() = %v, want ErrMisconfigured", err)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.TaskType != "greet" {
		t.Fatalf("Err() = %#v, want a *ConfigError for greet", err)
	}
	for _, w := range wantInErr {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Err() = %q, want it to contain %q", err, w)
		}
	}
	var errLines []string
	for _, e := range fr.logs.AllEntries() {
		if e.Level <= logrus.ErrorLevel {
			errLines = append(errLines, e.Message)
		}
	}
	if len(errLines) != 1 || errLines[0] != err.Error() {
		t.Errorf("error log lines = %q, want one line with the error", errLines)
	}
	if ws := fr.r.Workers(); len(ws) != 1 || ws[0].State != "stopped" {
		t.Errorf("Workers() = %+v, want one stopped worker", ws)
	}
	// Starting the stopped worker again must not pretend to work.
	if err := fr.r.StartWorker("greet", func(*model.Task) (interface{}, error) { return nil, nil }, 1, time.Second); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("StartWorker after the stop = %v, want ErrMisconfigured", err)
	}
}

func TestFatalBaseURLWithoutAPI(t *testing.T) {
	t.Parallel()
	srv := conductortest.NewServer()
	t.Cleanup(srv.Close)
	base := strings.TrimSuffix(srv.URL(), "/api")
	fr := startMisconfigured(t, settings.NewAuthenticationSettings("", ""), settings.NewHttpSettings(base))
	fr.check(t, base+"/tasks/poll/batch/greet", "404 Not Found", "does the base URL end in /api?")
}

func TestFatalWrongSecret(t *testing.T) {
	t.Parallel()
	const secret, wrong = "the-real-secret-4711", "a-wrong-secret-0815"
	srv := conductortest.NewServer(conductortest.WithAuth("key-1", secret))
	t.Cleanup(srv.Close)
	fr := startMisconfigured(t, settings.NewAuthenticationSettings("key-1", wrong), settings.NewHttpSettings(srv.URL()))
	fr.check(t, srv.URL()+"/token", "401 Unauthorized", "check the key id and secret")
	if !errors.Is(fr.r.Err(), client.ErrUnauthorized) {
		t.Errorf("Err() = %v, want it to match client.ErrUnauthorized", fr.r.Err())
	}
	for _, e := range fr.logs.AllEntries() {
		line, _ := e.String()
		if strings.Contains(line, wrong) || strings.Contains(line, secret) {
			t.Errorf("a log line holds the secret: %s", line)
		}
	}
	if strings.Contains(fr.r.Err().Error(), wrong) {
		t.Errorf("Err() holds the secret: %v", fr.r.Err())
	}
}

func TestFatalHTMLAnswers(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusNotFound, http.StatusOK} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(status)
				_, _ = w.Write([]byte("<!DOCTYPE html><html><body>Conductor UI</body></html>"))
			}))
			t.Cleanup(srv.Close)
			fr := startMisconfigured(t, nil, settings.NewHttpSettings(srv.URL+"/api"))
			fr.check(t, "web page", "is the base URL the API root")
		})
	}
}

func TestFatalUntrustedCertificate(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("[]"))
	}))
	// The server's handshake error log would only repeat what the test checks.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	fr := startMisconfigured(t, nil, settings.NewHttpSettings(srv.URL+"/api"))
	fr.check(t, "certificate is not trusted", "TLS.CAFile")
}

// What can end by itself never stops a worker: a 503, a refused connection,
// and 404s that a success interrupts (a proxy blip during a deployment).
func TestNotFatalWhatCanRecover(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	cases := map[string]func(n int64, w http.ResponseWriter){
		"503": func(_ int64, w http.ResponseWriter) {
			w.WriteHeader(http.StatusServiceUnavailable)
		},
		"404 twice, then a success": func(n int64, w http.ResponseWriter) {
			if n%3 == 0 {
				_, _ = w.Write([]byte("[]"))
				return
			}
			w.WriteHeader(http.StatusNotFound)
		},
		"connection refused": nil,
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var polls atomic.Int64
			base := closedURL + "/api"
			if answer != nil {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					answer(polls.Add(1), w)
				}))
				t.Cleanup(srv.Close)
				base = srv.URL + "/api"
			}
			logger, _ := logtest.NewNullLogger()
			var errs atomic.Int64
			r := NewTaskRunnerWithApiClient(client.NewAPIClient(nil, settings.NewHttpSettings(base)), WithLogger(logger),
				WithPollTimeout(0), WithHooks(Hooks{OnWorkerError: func(string, error) { errs.Add(1) }}))
			t.Cleanup(func() {
				_ = r.Shutdown(context.Background())
				r.WaitWorkers()
			})
			if err := r.StartWorker("greet", func(*model.Task) (interface{}, error) { return nil, nil }, 1, time.Millisecond); err != nil {
				t.Fatal(err)
			}
			// One failure more than fatalStrikes: with the 404 pattern that
			// includes two streaks interrupted by a success.
			waitFor(t, 20*time.Second, fmt.Sprintf("%d failed polls", fatalStrikes+2), func() bool { return errs.Load() >= fatalStrikes+2 })
			if err := r.Err(); err != nil {
				t.Fatalf("Err() = %v after recoverable failures, want nil", err)
			}
			ws := r.Workers()
			if ws[0].State == "stopped" || ws[0].LastError == "" {
				t.Errorf("worker = %+v, want it still running with the last error shown", ws[0])
			}
		})
	}
}

func TestMisconfigurationClassifier(t *testing.T) {
	t.Parallel()
	poll404 := &client.APIError{StatusCode: 404, Method: "GET", Path: "/api/tasks/poll/batch/x"}
	cases := []struct {
		name string
		err  error
		base string
		want string // "" = not fatal
	}{
		{"poll 404, base with /api", poll404, "http://h/api", "API root of a Conductor server"},
		{"poll 404, base without /api", poll404, "http://h", "end in /api"},
		{"update 404 (task gone)", &client.APIError{StatusCode: 404, Path: "/api/tasks"}, "http://h/api", ""},
		{"poll 500", &client.APIError{StatusCode: 500, Path: "/api/tasks/poll/batch/x"}, "http://h/api", ""},
		{"poll 429", &client.APIError{StatusCode: 429, Path: "/api/tasks/poll/batch/x"}, "http://h/api", ""},
		{"poll 502 with a proxy's HTML page", &client.APIError{StatusCode: 502, Path: "/api/tasks/poll/batch/x", Body: []byte("<html><body>502 Bad Gateway</body></html>")}, "http://h/api", ""},
		{"poll 405 with an HTML page", &client.APIError{StatusCode: 405, Path: "/api/tasks/poll/batch/x", ContentType: "text/html", Body: []byte("<!DOCTYPE html><html></html>")}, "http://h/api", "web page"},
		{"poll 403", &client.APIError{StatusCode: 403, Path: "/api/tasks/poll/batch/x"}, "http://h/api", "check the key id and secret"},
		{"token 404", &retry.TokenError{Err: &client.APIError{StatusCode: 404, Path: "/api/token"}}, "http://h/api", "Conductor OSS needs no key"},
		{"timeout", context.DeadlineExceeded, "http://h/api", ""},
		{"garbled JSON", errors.Join(client.ErrDecode, errors.New(`GET /api/tasks/poll/batch/x (content type "application/json")`)), "http://h/api", ""},
	}
	for _, c := range cases {
		kind := retry.Poll
		if strings.Contains(c.name, "update") {
			kind = retry.Result
		}
		got := misconfiguration(c.err, kind, c.base)
		switch {
		case c.want == "" && got != nil:
			t.Errorf("%s: fatal (%v), want retried", c.name, got)
		case c.want != "" && got == nil:
			t.Errorf("%s: retried, want fatal", c.name)
		case c.want != "" && !strings.Contains(got.Hint, c.want):
			t.Errorf("%s: hint %q, want it to contain %q", c.name, got.Hint, c.want)
		}
	}
}

// TestFatalIsDecidedFromTypedErrors is point 7 of issue 24: whether an
// error proves the configuration wrong used to be decided by matching its
// text ("/tasks/poll", "text/html"), so any error that happened to say so
// stopped a worker, and a rewording in the client would have silently
// disabled the rule. Now only the client's typed errors count.
func TestFatalIsDecidedFromTypedErrors(t *testing.T) {
	t.Parallel()
	mimic := fmt.Errorf(`%w: GET /api/tasks/poll/batch/x (content type "text/html"): invalid character '<'`, client.ErrDecode)
	if ce := misconfiguration(mimic, retry.Poll, "http://h/api"); ce != nil {
		t.Errorf("an untyped error that only mentions a poll and HTML was taken as proof: %v", ce)
	}
	page := &retry.DecodeError{Endpoint: "GET /api/tasks/poll/batch/x", ContentType: "text/html; charset=utf-8", Err: errors.New("invalid character '<'")}
	if ce := misconfiguration(page, retry.Poll, "http://h/api"); ce == nil || !strings.Contains(ce.Hint, "web page") {
		t.Errorf("a web page answering a poll: %v, want a misconfiguration", ce)
	}
	if ce := misconfiguration(page, retry.Result, "http://h/api"); ce != nil {
		t.Errorf("a web page answering a result post is not proof of a wrong URL (the polls would have said so): %v", ce)
	}
	refused := &client.APIError{StatusCode: 401, Method: "POST", Path: "/api/tasks"}
	if ce := misconfiguration(refused, retry.Result, "http://h/api"); ce == nil {
		t.Error("a result refused with 401 after a fresh token is evidence too")
	}
}
