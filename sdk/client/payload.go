package client

// External payload storage.
//
// A Conductor server with an external payload storage (conductor.
// external-payload-storage.type: postgres, s3 or azureblob) keeps large task
// and workflow payloads out of its database. Above a threshold it stores a
// task's input there and hands the task out with inputData empty and
// externalInputPayloadStoragePath naming the stored object; the same goes
// for workflow input and output. A client reads such a payload by asking
// the server for a READ location (GET .../externalstoragelocation), which
// answers a URI, and then GETting that URI: a pre-signed S3 or Azure URL, or
// the server's own /api/external/postgres/{key}. A client may also upload a
// large output itself: a WRITE location of S3 or Azure is a pre-signed URL
// that takes a PUT; PostgreSQL's is not (the server has no upload route),
// so there the output goes inline and the server stores it.
//
// Above the hard limits (maxTaskOutputPayloadSizeThreshold and friends) the
// server fails the task or workflow. The client checks the same limits
// before sending, so that a user learns it from the SDK at once.
// docs/compatibility.md has the details of each server and store.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/baton-go/baton/sdk/model"
)

// The payload types Conductor knows, as its externalstoragelocation calls
// and PayloadTooLargeError.Type name them.
const (
	payloadTaskInput      = "TASK_INPUT"
	payloadTaskOutput     = "TASK_OUTPUT"
	payloadWorkflowInput  = "WORKFLOW_INPUT"
	payloadWorkflowOutput = "WORKFLOW_OUTPUT"
)

// payloadOperation is READ or WRITE.
type payloadOperation string

// The operations of an external storage location.
const (
	payloadRead  payloadOperation = "READ"
	payloadWrite payloadOperation = "WRITE"
)

// externalLocation is the server's answer to an externalstoragelocation
// call: where to GET or PUT a payload (URI) and the key to name it by (Path).
type externalLocation struct {
	URI  string `json:"uri"`
	Path string `json:"path"`
}

// PayloadThresholds are the payload sizes, in bytes of JSON, at which the
// client externalizes a payload (the soft thresholds) and refuses to send it
// (the Max ones). They should match the server's
// conductor.app.*PayloadSizeThreshold properties; DefaultPayloadThresholds
// are the server's defaults. A value <= 0 turns that check off.
type PayloadThresholds struct {
	TaskInput         int64
	MaxTaskInput      int64
	TaskOutput        int64
	MaxTaskOutput     int64
	WorkflowInput     int64
	MaxWorkflowInput  int64
	WorkflowOutput    int64
	MaxWorkflowOutput int64
}

// DefaultPayloadThresholds returns Conductor's defaults (3.21 and 3.32 alike):
// 3 MB for task input and output, 5 MB for workflow input and output, and a
// hard limit of 10 MB for each (the server counts in KB of 1024 bytes).
func DefaultPayloadThresholds() PayloadThresholds {
	const kb = 1024
	return PayloadThresholds{
		TaskInput: 3072 * kb, MaxTaskInput: 10240 * kb,
		TaskOutput: 3072 * kb, MaxTaskOutput: 10240 * kb,
		WorkflowInput: 5120 * kb, MaxWorkflowInput: 10240 * kb,
		WorkflowOutput: 5120 * kb, MaxWorkflowOutput: 10240 * kb,
	}
}

// WithPayloadThresholds replaces DefaultPayloadThresholds(). The environment
// (see payloadThresholdsFromEnv) still overrides single values.
func WithPayloadThresholds(p PayloadThresholds) Option {
	return func(o *options) { o.payload = p; o.payloadSet = true }
}

// payloadEnv lists the environment variables that set thresholds: the
// server's own property names in the upper-case form Spring also reads
// (CONDUCTOR_APP_TASKOUTPUTPAYLOADSIZETHRESHOLD for
// conductor.app.taskOutputPayloadSizeThreshold), so that one setting can
// configure a server and its workers alike.
func payloadEnv(p *PayloadThresholds) []struct {
	name string
	v    *int64
} {
	return []struct {
		name string
		v    *int64
	}{
		{"CONDUCTOR_APP_TASKINPUTPAYLOADSIZETHRESHOLD", &p.TaskInput},
		{"CONDUCTOR_APP_MAXTASKINPUTPAYLOADSIZETHRESHOLD", &p.MaxTaskInput},
		{"CONDUCTOR_APP_TASKOUTPUTPAYLOADSIZETHRESHOLD", &p.TaskOutput},
		{"CONDUCTOR_APP_MAXTASKOUTPUTPAYLOADSIZETHRESHOLD", &p.MaxTaskOutput},
		{"CONDUCTOR_APP_WORKFLOWINPUTPAYLOADSIZETHRESHOLD", &p.WorkflowInput},
		{"CONDUCTOR_APP_MAXWORKFLOWINPUTPAYLOADSIZETHRESHOLD", &p.MaxWorkflowInput},
		{"CONDUCTOR_APP_WORKFLOWOUTPUTPAYLOADSIZETHRESHOLD", &p.WorkflowOutput},
		{"CONDUCTOR_APP_MAXWORKFLOWOUTPUTPAYLOADSIZETHRESHOLD", &p.MaxWorkflowOutput},
	}
}

// payloadThresholdsFromEnv returns base with the values the environment sets
// (lookup is os.LookupEnv or a stand-in). Each variable is a size as the
// server reads it: a plain number is KB, or a number with B, KB, MB or GB
// ("3MB", "10240KB"). An invalid value is an error naming the variable.
func payloadThresholdsFromEnv(base PayloadThresholds, lookup func(string) (string, bool)) (PayloadThresholds, error) {
	p := base
	for _, e := range payloadEnv(&p) {
		s, ok := lookup(e.name)
		if !ok || strings.TrimSpace(s) == "" {
			continue
		}
		n, err := parseDataSize(s)
		if err != nil {
			return base, fmt.Errorf("client: %s=%q: %v", e.name, s, err)
		}
		*e.v = n
	}
	return p, nil
}

// parseDataSize reads a size the way Spring reads a DataSize whose default
// unit is KB.
func parseDataSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1024)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a size such as 3072 (KB), 3MB or 10240KB")
	}
	return n * mult, nil
}

// PayloadTooLargeError is returned when a payload is larger than the
// server's hard limit for it: the server would fail the task or workflow.
type PayloadTooLargeError struct {
	// Type is the payload, in Conductor's words: "TASK_INPUT",
	// "TASK_OUTPUT", "WORKFLOW_INPUT" or "WORKFLOW_OUTPUT".
	Type  string
	Size  int64 // bytes of JSON
	Limit int64 // bytes
}

func (e *PayloadTooLargeError) Error() string {
	return fmt.Sprintf("%s payload is %d bytes of JSON, more than the server's limit of %d bytes (%s); "+
		"keep large data elsewhere and pass a reference", payloadName(e.Type), e.Size, e.Limit, limitProperty(e.Type))
}

// payloadName is "task output" for TASK_OUTPUT.
func payloadName(t string) string {
	return strings.ReplaceAll(strings.ToLower(t), "_", " ")
}

func limitProperty(t string) string {
	switch t {
	case payloadTaskInput:
		return "conductor.app.maxTaskInputPayloadSizeThreshold"
	case payloadTaskOutput:
		return "conductor.app.maxTaskOutputPayloadSizeThreshold"
	case payloadWorkflowInput:
		return "conductor.app.maxWorkflowInputPayloadSizeThreshold"
	}
	return "conductor.app.maxWorkflowOutputPayloadSizeThreshold"
}

// ErrPayloadUnavailable marks an externalized payload that cannot be read
// however often it is tried: the server gave no URI for it (its default,
// "dummy" store keeps payloads on its own disk), or the store does not have
// it. Other failures to read a payload (the network, a 5xx) are worth
// retrying.
var ErrPayloadUnavailable = errors.New("external payload unavailable")

// maxPayloadDownload caps what one payload download reads: far above any
// server's hard limit, low enough that a wrong URI cannot exhaust memory.
const maxPayloadDownload = 1 << 30

// postgresRoute is where Conductor's PostgreSQL store serves payloads.
const postgresRoute = "/api/external/postgres/"

// externalStorageLocation asks the server where to read (payloadRead, with
// the path a task or workflow names) or write (payloadWrite, path empty) a
// payload of the given type.
func (t *TaskClient) externalStorageLocation(ctx context.Context, op payloadOperation, pt string, path string) (*externalLocation, error) {
	return t.c.storageLocation(ctx, "/tasks/externalstoragelocation", op, pt, path, t.retry)
}

// externalStorageLocation is the workflow API's form of the same call.
func (w *workflowClient) externalStorageLocation(ctx context.Context, op payloadOperation, pt string, path string) (*externalLocation, error) {
	return w.c.storageLocation(ctx, "/workflow/externalstoragelocation", op, pt, path, true)
}

func (c *APIClient) storageLocation(ctx context.Context, route string, op payloadOperation, pt string, path string, retry bool) (*externalLocation, error) {
	q := url.Values{}
	q.Set("path", path)
	q.Set("operation", string(op))
	q.Set("payloadType", string(pt))
	cl := call{method: http.MethodGet, route: route, query: q, retry: retry, idempotent: true}
	resp, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	var loc externalLocation
	if err := decodeJSON(cl, resp, &loc); err != nil {
		return nil, err
	}
	return &loc, nil
}

// payloadURL resolves a location's URI: PostgreSQL's is relative to the
// server ("/api/external/postgres/KEY") unless the server was given
// conductor.external-payload-storage.postgres.conductor-url.
func (c *APIClient) payloadURL(uri string) (*url.URL, bool, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, false, fmt.Errorf("client: external storage URI cannot be parsed: %v", err)
	}
	if !u.IsAbs() {
		u = c.baseURL.ResolveReference(u)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, false, fmt.Errorf("%w: external storage URI has scheme %q, want http or https", ErrPayloadUnavailable, u.Scheme)
	}
	home := strings.EqualFold(u.Scheme, c.baseURL.Scheme) && strings.EqualFold(u.Host, c.baseURL.Host)
	return u, home, nil
}

// describeURL names a payload URL in errors and logs without its query,
// which holds the signature of a pre-signed URL.
func describeURL(u *url.URL) string {
	cp := *u
	cp.RawQuery, cp.Fragment, cp.User = "", "", nil
	return cp.String()
}

// payloadRequest sends one request to a payload URI. The server's token and
// headers go only to the server's own origin (PostgreSQL); a pre-signed URL
// carries its own authority.
func (c *APIClient) payloadRequest(ctx context.Context, method, uri string, body io.Reader, length int64) (*http.Response, *url.URL, error) {
	if err := c.err(); err != nil {
		return nil, nil, err
	}
	u, home, err := c.payloadURL(uri)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, u, fmt.Errorf("client: %s %s: %v", method, describeURL(u), err)
	}
	if home {
		token := ""
		if c.tokens != nil {
			if token, err = c.tokens.get(ctx); err != nil {
				return nil, u, err
			}
		}
		req.Header = c.requestHeader(call{method: method}, token)
	} else {
		req.Header.Set("User-Agent", userAgent)
	}
	if body != nil {
		// S3 signs the content type of its pre-signed PUT
		// (application/json); Azure wants the blob type.
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-ms-blob-type", "BlockBlob")
		req.ContentLength = length
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.obs.RequestDone("/external-payload", method, 0, time.Since(start))
		return nil, u, fmt.Errorf("conductor: %s %s: %w", method, describeURL(u), c.scrub(errors.Unwrap(err), ""))
	}
	c.obs.RequestDone("/external-payload", method, resp.StatusCode, time.Since(start))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		err := fmt.Errorf("conductor: %s %s answered %d: %s", method, describeURL(u), resp.StatusCode, strings.TrimSpace(string(msg)))
		if resp.StatusCode == http.StatusNotFound && method == http.MethodGet {
			// No such object. (A 403 is often an expired pre-signed URL,
			// S3's last 5 s by default: a new location may work.)
			err = fmt.Errorf("%w: %w", ErrPayloadUnavailable, err)
		}
		return nil, u, err
	}
	return resp, u, nil
}

// downloadPayload GETs a payload from a location URI and decodes it, as the
// input or output it stands for, the way an inline payload is decoded
// (numbers as float64). The body is decoded as it arrives.
func (c *APIClient) downloadPayload(ctx context.Context, uri string) (map[string]interface{}, error) {
	resp, u, err := c.payloadRequest(ctx, http.MethodGet, uri, nil, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// Read into one buffer of the announced size, then decode: the payload
	// costs its bytes plus the decoded values (about twice its size for text)
	// at the peak, where a json.Decoder or a growing buffer would hold up to
	// twice the bytes while it grows (BenchmarkPayloadMemory).
	body, err := readPayload(resp)
	if err != nil {
		return nil, fmt.Errorf("conductor: reading the payload at %s: %w", describeURL(u), err)
	}
	var m map[string]interface{}
	err = json.Unmarshal(body, &m)
	if err != nil {
		return nil, fmt.Errorf("%w: payload at %s: %v", ErrDecode, describeURL(u), err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: payload at %s is null", ErrDecode, describeURL(u))
	}
	// Conductor's PostgreSQL store answers 200 with this object for a key it
	// does not have (any more: it deletes old rows).
	if len(m) == 1 {
		if s, ok := m["Error"].(string); ok && strings.Contains(s, "does not exist") {
			return nil, fmt.Errorf("%w: %s: %s", ErrPayloadUnavailable, describeURL(u), s)
		}
	}
	return m, nil
}

// readPayload reads a payload body: into a buffer of exactly its length
// when the answer says it, else into a growing one; at most
// maxPayloadDownload bytes.
func readPayload(resp *http.Response) ([]byte, error) {
	n := resp.ContentLength
	if n > maxPayloadDownload {
		return nil, fmt.Errorf("%d bytes is more than the %d this client reads", n, maxPayloadDownload)
	}
	if n > 0 {
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPayloadDownload+1))
	if err == nil && int64(len(b)) > maxPayloadDownload {
		err = fmt.Errorf("more than the %d bytes this client reads", maxPayloadDownload)
	}
	return b, err
}

// readExternal reads the payload at path through a READ location.
func (c *APIClient) readExternal(ctx context.Context, loc func(context.Context, payloadOperation, string, string) (*externalLocation, error), pt string, path string) (map[string]interface{}, error) {
	l, err := loc(ctx, payloadRead, pt, path)
	if err != nil {
		return nil, fmt.Errorf("asking the server where %s %s is stored: %w", payloadName(pt), path, err)
	}
	if strings.TrimSpace(l.URI) == "" {
		return nil, fmt.Errorf("%w: the server gave no URI to read %s %s from; its external payload storage is not readable by clients "+
			"(the default store keeps payloads on the server's disk: set conductor.external-payload-storage.type)", ErrPayloadUnavailable, payloadName(pt), path)
	}
	m, err := c.downloadPayload(ctx, l.URI)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", payloadName(pt), path, err)
	}
	return m, nil
}

// FetchTaskInput replaces the empty input of a task whose input the server
// keeps in its external payload storage with that input. It does nothing
// for a task with its input inline.
func (t *TaskClient) FetchTaskInput(ctx context.Context, task *model.Task) error {
	if task == nil || strings.TrimSpace(task.ExternalInputPayloadStoragePath) == "" || len(task.InputData) > 0 {
		return nil
	}
	m, err := t.c.readExternal(ctx, t.externalStorageLocation, payloadTaskInput, task.ExternalInputPayloadStoragePath)
	if err != nil {
		return err
	}
	task.InputData = m
	return nil
}

// fetchWorkflowPayloads reads a workflow's externalized input and output.
func (w *workflowClient) fetchWorkflowPayloads(ctx context.Context, wf *model.Workflow) error {
	if p := strings.TrimSpace(wf.ExternalInputPayloadStoragePath); p != "" && len(wf.Input) == 0 {
		m, err := w.c.readExternal(ctx, w.externalStorageLocation, payloadWorkflowInput, p)
		if err != nil {
			return fmt.Errorf("workflow %s: %w", wf.WorkflowId, err)
		}
		wf.Input = m
	}
	if p := strings.TrimSpace(wf.ExternalOutputPayloadStoragePath); p != "" && len(wf.Output) == 0 {
		m, err := w.c.readExternal(ctx, w.externalStorageLocation, payloadWorkflowOutput, p)
		if err != nil {
			return fmt.Errorf("workflow %s: %w", wf.WorkflowId, err)
		}
		wf.Output = m
	}
	return nil
}

// uploadable reports whether a WRITE location takes a client's upload: a
// pre-signed URL does; PostgreSQL's (served by the Conductor server, which
// has no upload route) and an empty one do not.
func uploadable(l *externalLocation) bool {
	if l == nil || strings.TrimSpace(l.URI) == "" || strings.TrimSpace(l.Path) == "" {
		return false
	}
	u, err := url.Parse(l.URI)
	return err == nil && !strings.Contains(u.Path, postgresRoute)
}

// upload PUTs a payload to a WRITE location.
func (c *APIClient) upload(ctx context.Context, l *externalLocation, body []byte) error {
	resp, _, err := c.payloadRequest(ctx, http.MethodPut, l.URI, bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.Body.Close()
}

// uploadJSON PUTs the JSON of v, size bytes long (jsonSize), encoding it
// as it is sent (payload_stream.go) rather than building it in memory. The
// goroutine that encodes is this call's and has ended when it returns.
func (c *APIClient) uploadJSON(ctx context.Context, l *externalLocation, v interface{}, size int64) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := streamJSON(pw, v)
		pw.CloseWithError(err)
		done <- err
	}()
	resp, _, err := c.payloadRequest(ctx, http.MethodPut, l.URI, pr, size)
	pr.CloseWithError(errors.New("upload ended")) // stops the encoder if the request did not read it all
	encErr := <-done
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if encErr != nil && !errors.Is(encErr, io.ErrClosedPipe) {
		return fmt.Errorf("client: encoding the payload: %w", encErr)
	}
	return nil
}

// StoreTaskOutput applies the output thresholds to a result before it is
// sent. size is the output's JSON size when known (< 0: measured here).
//
//   - over MaxTaskOutput: a *PayloadTooLargeError; the result must not be
//     sent as it is (the server would fail the task, after the upload);
//   - over TaskOutput: when the server's store takes uploads (a pre-signed
//     WRITE location), the output is uploaded and the result carries its
//     path (ExternalOutputPayloadStoragePath) and an empty output, and
//     StoreTaskOutput reports true; otherwise the output stays inline, for
//     the server to store (PostgreSQL), and it reports false. A failed
//     upload is an error; the result is then unchanged and can still be
//     sent inline.
func (t *TaskClient) StoreTaskOutput(ctx context.Context, r *model.TaskResult, size int64) (bool, error) {
	if err := t.c.err(); err != nil {
		return false, err
	}
	th := t.c.payload
	if r == nil || len(r.OutputData) == 0 || r.ExternalOutputPayloadStoragePath != "" {
		return false, nil
	}
	if size < 0 {
		n, err := jsonSize(r.OutputData)
		if err != nil {
			return false, fmt.Errorf("client: encoding the task output: %w", err)
		}
		size = n
	}
	if th.MaxTaskOutput > 0 && size > th.MaxTaskOutput {
		return false, &PayloadTooLargeError{Type: payloadTaskOutput, Size: size, Limit: th.MaxTaskOutput}
	}
	if th.TaskOutput <= 0 || size <= th.TaskOutput {
		return false, nil
	}
	loc, err := t.externalStorageLocation(ctx, payloadWrite, payloadTaskOutput, "")
	if err != nil {
		return false, fmt.Errorf("asking the server where to store a task output of %d bytes: %w", size, err)
	}
	if !uploadable(loc) {
		return false, nil
	}
	// The size the worker measured is that of json.Marshal, which is what
	// streamJSON writes; it is measured again here all the same, because a
	// Content-Length that does not match the body fails the upload.
	n, err := jsonSize(r.OutputData)
	if err != nil {
		return false, fmt.Errorf("client: encoding the task output: %w", err)
	}
	if err := t.c.uploadJSON(ctx, loc, r.OutputData, n); err != nil {
		return false, fmt.Errorf("uploading a task output of %d bytes: %w", size, err)
	}
	r.ExternalOutputPayloadStoragePath = loc.Path
	r.OutputData = map[string]interface{}{}
	return true, nil
}

// prepareStartInput applies the workflow input thresholds to a start: over
// the hard limit it is an error; over the threshold the input is uploaded
// when the store takes uploads (the request then names its path), else it
// goes inline for the server to store. It returns the request to send.
func (w *workflowClient) prepareStartInput(ctx context.Context, r *model.StartWorkflowRequest) (*model.StartWorkflowRequest, error) {
	if err := w.c.err(); err != nil {
		return nil, err
	}
	th := w.c.payload
	if len(r.Input) == 0 || (th.MaxWorkflowInput <= 0 && th.WorkflowInput <= 0) {
		return r, nil
	}
	body, err := json.Marshal(r.Input)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the workflow input: %w", err)
	}
	size := int64(len(body))
	if th.MaxWorkflowInput > 0 && size > th.MaxWorkflowInput {
		return nil, &PayloadTooLargeError{Type: payloadWorkflowInput, Size: size, Limit: th.MaxWorkflowInput}
	}
	if th.WorkflowInput <= 0 || size <= th.WorkflowInput {
		return r, nil
	}
	loc, err := w.externalStorageLocation(ctx, payloadWrite, payloadWorkflowInput, "")
	if err != nil {
		// The server can still store it itself.
		w.c.log.WithError(err).Warn("client: no external storage location for a large workflow input; sending it inline")
		return r, nil
	}
	if !uploadable(loc) {
		return r, nil
	}
	if err := w.c.upload(ctx, loc, body); err != nil {
		w.c.log.WithError(err).Warn("client: uploading a large workflow input failed; sending it inline")
		return r, nil
	}
	cp := *r
	cp.Input = map[string]interface{}{}
	cp.ExternalInputPayloadStoragePath = loc.Path
	return &cp, nil
}

// envPayloadThresholds applies the environment to the configured thresholds.
func envPayloadThresholds(base PayloadThresholds) (PayloadThresholds, error) {
	return payloadThresholdsFromEnv(base, os.LookupEnv)
}
