package faults

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"
)

// The suite shares one logger, captured in memory, so that TestMain can scan
// everything the SDK logged in every scenario for secrets and payloads.
//
// The markers are random per run so that a match cannot come from a constant
// that happens to appear in some message.
var (
	suiteID = randomHex(6)
	// keySecret is the key secret of every runner that authenticates.
	keySecret = "faults-SECRET-" + suiteID
	// wrongSecret is a secret the server refuses (scenario 4's failing key).
	wrongSecret = "faults-WRONGSECRET-" + suiteID
	// payloadMarker is part of every task input and output: a log line at
	// info level or above holding it leaks a task payload.
	payloadMarker = "faults-PAYLOAD-" + suiteID

	logs   = newLogCapture()
	tokens = &tokenSet{seen: map[string]struct{}{}}
	// errTexts collects the text of every error the runner handed to a hook,
	// for the same scan (error strings must not carry the key secret either).
	errTexts = &textSet{}
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if problems := scan(logs.all(), errTexts.list(), tokens.list()); len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: log scan found %d problem(s):\n", len(problems))
			for _, p := range problems {
				fmt.Fprintln(os.Stderr, "  "+p)
			}
			code = 1
		} else {
			n, byLevel := logs.summary()
			fmt.Printf("log scan: %d lines captured (%s), %d tokens and %d error texts checked: no secret, token or payload found\n",
				n, byLevel, tokens.len(), errTexts.len())
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: goroutines leaked: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// scan checks captured log entries and error texts: the key secret (right or
// wrong), a token or a JWT-shaped string never appear at any level; the task
// payload never appears at info level or above.
func scan(entries []logEntry, errs []string, toks []string) []string {
	var problems []string
	secrets := []string{keySecret, wrongSecret}
	check := func(where, text string, payloadToo bool) {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				problems = append(problems, fmt.Sprintf("%s holds a key secret: %.300s", where, text))
			}
		}
		// Every token the server issues is a JWT: its header segment starts
		// with "eyJ" ({"...). Tokens the client actually sent are checked
		// verbatim too, in case a log line cuts the header off.
		if strings.Contains(text, "eyJhbGci") {
			problems = append(problems, fmt.Sprintf("%s holds a JWT: %.300s", where, text))
		}
		for _, tok := range toks {
			if i := strings.LastIndexByte(tok, '.'); i > 0 && strings.Contains(text, tok[i+1:]) {
				problems = append(problems, fmt.Sprintf("%s holds a token's signature: %.300s", where, text))
			}
		}
		if payloadToo && strings.Contains(text, payloadMarker) {
			problems = append(problems, fmt.Sprintf("%s holds a task payload: %.300s", where, text))
		}
	}
	for _, e := range entries {
		check("log line ("+e.level.String()+", "+e.scenario+")", e.text, e.level <= logrus.InfoLevel)
	}
	for _, s := range errs {
		check("error string", s, false)
	}
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
	}
	return problems
}

// logEntry is one captured line.
type logEntry struct {
	at       time.Time
	level    logrus.Level
	scenario string
	taskType string
	msg      string
	text     string // message and every field, as printed
}

// logCapture is a logrus hook keeping every entry of the suite logger.
type logCapture struct {
	logger *logrus.Logger
	fmt    logrus.Formatter

	mu      sync.Mutex
	entries []logEntry
}

func newLogCapture() *logCapture {
	c := &logCapture{fmt: &logrus.TextFormatter{DisableTimestamp: true, DisableColors: true, DisableSorting: true}}
	l := logrus.New()
	l.SetOutput(discard{})
	// Debug, so that secrets are looked for in every line the SDK can print.
	l.SetLevel(logrus.DebugLevel)
	l.AddHook(c)
	c.logger = l
	return c
}

func (c *logCapture) Levels() []logrus.Level { return logrus.AllLevels }

func (c *logCapture) Fire(e *logrus.Entry) error {
	b, err := c.fmt.Format(e)
	if err != nil {
		return err
	}
	scenario, _ := e.Data["scenario"].(string)
	taskType, _ := e.Data["taskType"].(string)
	c.mu.Lock()
	c.entries = append(c.entries, logEntry{at: e.Time, level: e.Level, scenario: scenario, taskType: taskType, msg: e.Message, text: string(b)})
	c.mu.Unlock()
	return nil
}

// forScenario returns a logger whose lines carry the scenario's name.
func (c *logCapture) forScenario(name string) logrus.FieldLogger {
	return c.logger.WithField("scenario", name)
}

func (c *logCapture) all() []logEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]logEntry(nil), c.entries...)
}

// between returns the entries of scenario logged in [from, to].
func (c *logCapture) between(scenario string, from, to time.Time) []logEntry {
	var out []logEntry
	for _, e := range c.all() {
		if e.scenario == scenario && !e.at.Before(from) && !e.at.After(to) {
			out = append(out, e)
		}
	}
	return out
}

func (c *logCapture) summary() (int, string) {
	all := c.all()
	count := map[string]int{}
	for _, e := range all {
		count[e.level.String()]++
	}
	var parts []string
	for k, v := range count {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return len(all), strings.Join(parts, ", ")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// tokenSet records every X-Authorization value the clients sent.
type tokenSet struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

func (s *tokenSet) add(tok string) {
	s.mu.Lock()
	s.seen[tok] = struct{}{}
	s.mu.Unlock()
}

func (s *tokenSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.seen))
	for t := range s.seen {
		out = append(out, t)
	}
	return out
}

func (s *tokenSet) len() int { return len(s.list()) }

type textSet struct {
	mu    sync.Mutex
	texts map[string]struct{}
}

func (s *textSet) add(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	if s.texts == nil {
		s.texts = map[string]struct{}{}
	}
	// Distinct texts only: an outage repeats the same few errors thousands
	// of times.
	if len(s.texts) < 100000 {
		s.texts[err.Error()] = struct{}{}
	}
	s.mu.Unlock()
}

func (s *textSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.texts))
	for t := range s.texts {
		out = append(out, t)
	}
	return out
}

func (s *textSet) len() int { return len(s.list()) }

// recordingTransport notes the token of every request, then sends it.
type recordingTransport struct {
	next *http.Transport
}

func newRecordingTransport() *recordingTransport {
	return &recordingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok := r.Header.Get("X-Authorization"); tok != "" {
		tokens.add(tok)
	}
	return t.next.RoundTrip(r)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// wrapped transport, so no keep-alive goroutine outlives a scenario.
func (t *recordingTransport) CloseIdleConnections() { t.next.CloseIdleConnections() }

// skipShort keeps the fault suite out of `make test-short`, the developer
// loop: its scenarios run real outages and timeouts and take minutes. Plain
// `make test`, `make test-faults` and CI run them all.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fault scenario: runs under make test and make test-faults, not with -short")
	}
}
