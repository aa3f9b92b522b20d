package conductortest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Fault describes the misbehaviour injected into one group of endpoints.
// Rates are probabilities per request, from 0 to 1.
type Fault struct {
	// ErrorRate is the share of requests answered with an error status
	// without being processed.
	ErrorRate float64
	// Statuses are the error statuses to pick from at random (default 503).
	Statuses []int
	// RetryAfter, when > 0, adds a Retry-After header (whole seconds,
	// rounded up) to injected 429 and 503 answers.
	RetryAfter time.Duration
	// Latency is added before every request of the group is processed.
	Latency time.Duration
	// DropRate is the share of requests that are processed but whose
	// connection is closed instead of answered: the client sees an error for
	// a request that did take effect.
	DropRate float64
	// MalformedRate is the share of processed requests whose answer is
	// mangled, in one of the Malformed ways picked at random.
	MalformedRate float64
	// Malformed names the ways an answer may be mangled (every one when
	// empty); each is sent with status 200:
	//   - "truncated-json": the first half of the body, as JSON;
	//   - "wrong-content-type": an HTML error page instead of the JSON;
	//   - "empty-body": Content-Type application/json and no body.
	// SetFaults panics on any other name.
	Malformed []string
	// ExtraTasks makes a batch poll hand out up to this many tasks more than
	// its count asked for (seen with some queue backends).
	ExtraTasks int
}

// mangling is a way of mangling an answer (Fault.Malformed).
type mangling int

const (
	truncatedJSON mangling = iota + 1
	wrongContentType
	emptyBody
)

// manglings are the Fault.Malformed names, in the order of the doc.
var manglings = []struct {
	name string
	m    mangling
}{{"truncated-json", truncatedJSON}, {"wrong-content-type", wrongContentType}, {"empty-body", emptyBody}}

// Faults maps an endpoint group to its fault. Groups: "poll" (single and
// batch poll), "update" (update, update-v2, update by reference name),
// "token", "metadata", "workflow", "task" (other task endpoints), "other"
// (health, unknown paths) and "" (every group without its own entry).
type Faults map[string]Fault

type faultSet struct {
	byGroup map[string]*activeFault
}

// activeFault is a Fault in force, its Malformed names resolved.
type activeFault struct {
	Fault
	manglings []mangling
}

// SetFaults replaces the injected faults. Latency and error statuses apply
// to requests that arrive after it; dropped and malformed answers to
// answers made after it, including those of long polls already waiting.
// It panics, naming the group and the value, on an unknown Malformed name.
func (s *Server) SetFaults(f Faults) {
	fs := &faultSet{byGroup: make(map[string]*activeFault, len(f))}
	for g, v := range f {
		af := &activeFault{Fault: v}
		af.Statuses = append([]int(nil), v.Statuses...)
		af.Malformed = append([]string(nil), v.Malformed...)
		for _, name := range v.Malformed {
			af.manglings = append(af.manglings, parseMangling(g, name))
		}
		if len(af.manglings) == 0 {
			for _, m := range manglings {
				af.manglings = append(af.manglings, m.m)
			}
		}
		fs.byGroup[g] = af
	}
	s.faults.Store(fs)
}

// parseMangling resolves a Fault.Malformed name of group g, or panics: a
// misspelt mode is a mistake in the test, which should not pass quietly
// without the fault it asked for.
func parseMangling(g, name string) mangling {
	names := make([]string, len(manglings))
	for i, m := range manglings {
		if m.name == name {
			return m.m
		}
		names[i] = strconv.Quote(m.name)
	}
	panic(fmt.Sprintf("conductortest: SetFaults: Faults[%q].Malformed: unknown mode %q, want one of %s", g, name, strings.Join(names, ", ")))
}

// ClearFaults stops every injected fault, as SetFaults with none would (Down
// state is separate: see Up).
func (s *Server) ClearFaults() { s.faults.Store(nil) }

func (s *Server) faultFor(group string) *activeFault {
	fs := s.faults.Load()
	if fs == nil {
		return nil
	}
	if f, ok := fs.byGroup[group]; ok {
		return f
	}
	return fs.byGroup[""]
}

// faultCounters count the injected faults (Stats reports them).
type faultCounters struct {
	errors, delayed, dropped, malformed, overDelivery, downs atomic.Int64
}

// serveWithFaults applies the faults of group to one request. Latency and
// error statuses are decided when the request arrives; dropped and mangled
// answers when the answer is ready, by the faults in force then, so that
// ClearFaults also spares a long poll that was already waiting.
func (s *Server) serveWithFaults(w http.ResponseWriter, r *http.Request, next http.Handler, group string) {
	f := s.faultFor(group)
	if f == nil {
		s.serveAuthed(w, r, next, group)
		return
	}
	if f.Latency > 0 {
		s.faultCounts.delayed.Add(1)
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closing:
			t.Stop()
			return
		}
	}
	if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
		s.faultCounts.errors.Add(1)
		status := http.StatusServiceUnavailable
		if len(f.Statuses) > 0 {
			status = f.Statuses[rand.IntN(len(f.Statuses))]
		}
		if f.RetryAfter > 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
			secs := (f.RetryAfter + time.Second - 1) / time.Second
			w.Header().Set("Retry-After", strconv.Itoa(int(secs)))
		}
		s.writeError(w, errf(status, "conductortest: injected %d for %s", status, group))
		return
	}
	if f.DropRate <= 0 && f.MalformedRate <= 0 {
		s.serveAuthed(w, r, next, group)
		return
	}
	bw := &bufferedWriter{header: http.Header{}}
	s.serveAuthed(bw, r, next, group)
	drop, mangle := s.answerFault(group)
	switch {
	case drop:
		s.faultCounts.dropped.Add(1)
		if hj, ok := unwrapHijacker(w); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		// Not hijackable (HTTP/2, embedded use): abort the response instead.
		panic(http.ErrAbortHandler)
	case mangle != 0:
		s.faultCounts.malformed.Add(1)
		bw.writeMangled(w, mangle)
	default:
		bw.writeTo(w)
	}
}

// answerFault rolls the dice for a processed request of group, with the
// faults in force now: is its connection dropped, or its answer mangled (and
// how)?
func (s *Server) answerFault(group string) (drop bool, mangle mangling) {
	f := s.faultFor(group)
	if f == nil {
		return false, 0
	}
	if f.DropRate > 0 && rand.Float64() < f.DropRate {
		return true, 0
	}
	if f.MalformedRate > 0 && rand.Float64() < f.MalformedRate {
		return false, f.manglings[rand.IntN(len(f.manglings))]
	}
	return false, 0
}

// extraTasks is how many tasks a batch poll may hand out beyond its count
// (Fault.ExtraTasks of the "poll" group); it counts the over-delivery.
func (s *Server) extraTasks() int {
	f := s.faultFor("poll")
	if f == nil || f.ExtraTasks <= 0 {
		return 0
	}
	s.faultCounts.overDelivery.Add(1)
	return f.ExtraTasks
}

type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// writeTo sends the buffered answer unchanged.
func (b *bufferedWriter) writeTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	status := b.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(b.body.Bytes())
}

// writeMangled sends the buffered answer mangled in the given way, with
// status 200.
func (b *bufferedWriter) writeMangled(w http.ResponseWriter, mode mangling) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	body := b.body.Bytes()
	switch mode {
	case truncatedJSON:
		body = body[:len(body)/2]
		h.Set("Content-Type", "application/json")
	case wrongContentType:
		body = []byte("<html><body><h1>502 Bad Gateway</h1></body></html>")
		h.Set("Content-Type", "text/html")
	case emptyBody:
		body = nil
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func unwrapHijacker(w http.ResponseWriter) (http.Hijacker, bool) {
	for {
		if hj, ok := w.(http.Hijacker); ok {
			return hj, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil, false
		}
		w = u.Unwrap()
	}
}
