package conductortest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/baton-go/baton/sdk/model"
)

// External payload storage, as Conductor does it with
// conductor.external-payload-storage.type set (docs/compatibility.md):
// payloads over a threshold are kept in a store, out of the task or
// workflow (inputData/outputData empty, externalInput/OutputPayloadStoragePath
// naming them), and read through GET .../externalstoragelocation plus a GET
// of the URI it answers; task outputs over the hard limit fail the task.
//
// The dev server keeps every payload in memory and also keeps the full data
// in its own records (expressions such as ${task.output.x} read it there);
// only what it sends is externalized. Not imitated: a task input over the
// hard limit (the real server fails the task), a workflow input or output
// over it (it fails the workflow), and PostgreSQL's deletion of old rows.

// payloadStore is the kind of external payload storage the dev server
// imitates (WithExternalPayloadStorage).
type payloadStore int

const (
	payloadStoreNone payloadStore = iota
	payloadStorePresigned
	payloadStorePostgres
)

// payloadStoreNames are the WithExternalPayloadStorage names, by kind.
var payloadStoreNames = [...]string{
	payloadStoreNone:      "none",
	payloadStorePresigned: "presigned",
	payloadStorePostgres:  "postgres",
}

// parsePayloadStore resolves a WithExternalPayloadStorage name ("" is
// "none").
func parsePayloadStore(name string) (payloadStore, error) {
	return parseName[payloadStore]("payload store", name, payloadStoreNames[:])
}

// PayloadLimits are the sizes (bytes of JSON) over which payloads are
// kept in the store instead of the task or workflow (TaskInput, TaskOutput,
// WorkflowInput, WorkflowOutput), and over which a task output fails the
// task (MaxTaskOutput). A zero field takes Conductor's default: 3 MB for
// task payloads, 5 MB for workflow payloads, 10 MB for MaxTaskOutput (the
// conductor.app.*PayloadSizeThreshold settings); a negative one turns that
// check off. PayloadLimits{} is Conductor's defaults.
type PayloadLimits struct {
	TaskInput, TaskOutput         int64
	MaxTaskOutput                 int64
	WorkflowInput, WorkflowOutput int64
}

// withDefaults fills the zero fields with Conductor's defaults.
func (l PayloadLimits) withDefaults() PayloadLimits {
	for _, f := range []struct {
		v   *int64
		def int64
	}{
		{&l.TaskInput, 3 << 20}, {&l.TaskOutput, 3 << 20}, {&l.MaxTaskOutput, 10 << 20},
		{&l.WorkflowInput, 5 << 20}, {&l.WorkflowOutput, 5 << 20},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return l
}

// WithExternalPayloadStorage turns on external payload storage of the
// named kind, with these limits (PayloadLimits{}: Conductor's defaults):
//
//   - "presigned" imitates S3 or Azure: READ and WRITE locations are
//     pre-signed-style URLs on the dev server
//     (/external/presigned/{key}?op=...&sig=...) that take a GET or a PUT,
//     so clients upload large outputs themselves.
//   - "postgres" imitates Conductor's PostgreSQL store: READ locations are
//     /api/external/postgres/{key} on the server; WRITE locations name the
//     same route, which takes no upload, so clients send large outputs
//     inline and the server stores them.
//   - "none" (or "") turns it off, as without this option: payloads stay
//     inline whatever their size, and no limit applies.
//
// Start (and NewServer) refuse any other name. cmd/conductor-dev's
// -payload-store takes the same names.
func WithExternalPayloadStorage(store string, limits PayloadLimits) Option {
	return func(o *options) { o.payloadStoreName, o.payloadLimits = store, limits }
}

// payloads is the in-memory store.
type payloads struct {
	mu     sync.Mutex
	data   map[string][]byte
	secret []byte // signs presigned URLs
}

func newPayloads() *payloads {
	p := &payloads{data: map[string][]byte{}, secret: make([]byte, 16)}
	_, _ = rand.Read(p.secret)
	return p
}

func (p *payloads) put(key string, b []byte) {
	p.mu.Lock()
	p.data[key] = b
	p.mu.Unlock()
}

func (p *payloads) get(key string) ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.data[key]
	return b, ok
}

func (p *payloads) sign(key, op string) string {
	m := hmac.New(sha256.New, p.secret)
	m.Write([]byte(op + "\x00" + key))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) payloadsOn() bool { return s.opts.payloadStore != payloadStoreNone }

// externalize stores v when its JSON is over limit and returns its key.
func (s *Server) externalize(v map[string]any, limit int64) string {
	if !s.payloadsOn() || limit <= 0 || len(v) == 0 {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil || int64(len(b)) <= limit {
		return ""
	}
	key := newID() + ".json"
	s.store.put(key, b)
	return key
}

// readStored decodes a stored payload.
func (s *Server) readStored(key string) (map[string]any, bool) {
	b, ok := s.store.get(key)
	if !ok {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

// taskOutputPayload applies the output rules to an update: an output named
// by externalOutputPayloadStoragePath is read from the store; an inline one
// over the hard limit fails the task (as the real server does, with its
// message); one over the threshold is stored. It returns the status, the
// output to keep and the reason to set ("" to keep the result's).
func (s *Server) taskOutputPayload(t *task, res *model.TaskResult, st model.TaskStatus, out map[string]any) (model.TaskStatus, map[string]any, string, *apiError) {
	t.extOut = ""
	if p := strings.TrimSpace(res.ExternalOutputPayloadStoragePath); p != "" {
		t.m.ExternalOutputPayloadStoragePath = p
		if !s.payloadsOn() || len(out) > 0 {
			return st, out, "", nil
		}
		m, ok := s.readStored(p)
		if !ok {
			return st, out, "", serverError("Unable to download payload from external storage path: %s", p)
		}
		t.extOut = p
		return st, m, "", nil
	}
	if !s.payloadsOn() || len(out) == 0 {
		return st, out, "", nil
	}
	l := s.opts.payloadLimits
	b, err := json.Marshal(out)
	if err != nil {
		return st, out, "", nil
	}
	size := int64(len(b))
	if l.MaxTaskOutput > 0 && size > l.MaxTaskOutput {
		reason := fmt.Sprintf("The payload size: %d of task: %s in workflow: %s  is greater than the permissible limit: %d bytes",
			size, t.m.TaskId, t.m.WorkflowInstanceId, l.MaxTaskOutput)
		return model.TaskFailedWithTerminalError, map[string]any{}, reason, nil
	}
	if l.TaskOutput > 0 && size > l.TaskOutput {
		key := newID() + ".json"
		s.store.put(key, b)
		t.extOut = key
	}
	return st, out, "", nil
}

// startInputPayload resolves a start request's externalized input and
// externalizes a large inline one.
func (s *Server) startInputPayload(req *model.StartWorkflowRequest) (map[string]any, string, *apiError) {
	if p := strings.TrimSpace(req.ExternalInputPayloadStoragePath); p != "" && len(req.Input) == 0 && s.payloadsOn() {
		m, ok := s.readStored(p)
		if !ok {
			return nil, "", serverError("Unable to download payload from external storage path: %s", p)
		}
		return m, p, nil
	}
	return req.Input, s.externalize(req.Input, s.opts.payloadLimits.WorkflowInput), nil
}

// handleStorageLocation is GET /api/tasks/externalstoragelocation and
// /api/workflow/externalstoragelocation.
func (s *Server) handleStorageLocation(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path, op, pt := q.Get("path"), q.Get("operation"), q.Get("payloadType")
	switch op {
	case "READ", "WRITE":
	default:
		s.writeError(w, badRequest("operation must be READ or WRITE, got %q", op))
		return
	}
	switch pt {
	case "TASK_INPUT", "TASK_OUTPUT", "WORKFLOW_INPUT", "WORKFLOW_OUTPUT":
	default:
		s.writeError(w, badRequest("payloadType must be TASK_INPUT, TASK_OUTPUT, WORKFLOW_INPUT or WORKFLOW_OUTPUT, got %q", pt))
		return
	}
	key := strings.TrimSpace(path)
	if key == "" {
		key = newID() + ".json"
	}
	root := "http://" + s.addr
	loc := map[string]any{"path": key}
	switch s.opts.payloadStore {
	case payloadStorePostgres:
		loc["uri"] = root + "/api/external/postgres/" + key
	case payloadStorePresigned:
		loc["uri"] = root + "/external/presigned/" + key + "?op=" + op + "&sig=" + s.store.sign(key, op)
	default:
		// Conductor's default store: a path on the server's disk, no URI.
		loc["path"] = path + newID() + ".json"
	}
	s.writeJSON(w, http.StatusOK, loc)
}

// handlePostgresPayload is GET /api/external/postgres/{key}: the stored
// JSON, or (as the real store answers for an unknown or deleted key) 200
// with an error object.
func (s *Server) handlePostgresPayload(w http.ResponseWriter, r *http.Request) {
	if s.opts.payloadStore != payloadStorePostgres {
		s.writeError(w, noResource(r))
		return
	}
	b, ok := s.store.get(r.PathValue("key"))
	if !ok {
		b = []byte(`{"Error": "Data with this ID does not exist or has been deleted from the external storage."}`)
	}
	writeRawJSON(w, b)
}

func writeRawJSON(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// handlePresigned serves GET and PUT of /external/presigned/{key}, checking
// the signature of the location that named it, as S3 checks a pre-signed
// URL's: a READ URL does not take a PUT, and a key without a stored object
// is a 404.
func (s *Server) handlePresigned(w http.ResponseWriter, r *http.Request) {
	if s.opts.payloadStore != payloadStorePresigned {
		s.writeError(w, noResource(r))
		return
	}
	key, q := r.PathValue("key"), r.URL.Query()
	op := "READ"
	if r.Method == http.MethodPut {
		op = "WRITE"
	}
	if q.Get("op") != op || !hmac.Equal([]byte(q.Get("sig")), []byte(s.store.sign(key, op))) {
		writeEmpty(w, http.StatusForbidden)
		return
	}
	if r.Method == http.MethodGet {
		b, ok := s.store.get(key)
		if !ok {
			writeEmpty(w, http.StatusNotFound)
			return
		}
		writeRawJSON(w, b)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(b) > maxBody {
		writeEmpty(w, http.StatusBadRequest)
		return
	}
	s.store.put(key, b)
	writeEmpty(w, http.StatusOK)
}
