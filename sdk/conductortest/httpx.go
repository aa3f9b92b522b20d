package conductortest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/baton-go/baton/sdk/conductortest/internal/wire"
)

// apiError is an error answered with the server's JSON error body.
type apiError struct {
	status     int
	message    string
	validation []validationError
}

type validationError struct {
	Path         string  `json:"path,omitempty"`
	Message      string  `json:"message"`
	InvalidValue *string `json:"invalidValue,omitempty"` // a string on the real server, absent for null
}

func (e *apiError) Error() string { return e.message }

func errf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return errf(http.StatusNotFound, format, args...)
}
func badRequest(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, format, args...)
}
func serverError(format string, args ...any) *apiError {
	return errf(http.StatusInternalServerError, format, args...)
}

func invalid(errs ...validationError) *apiError {
	return &apiError{status: http.StatusBadRequest, message: "Validation failed, check below errors for detail.", validation: errs}
}

type errorBody struct {
	Status           int               `json:"status"`
	Message          string            `json:"message"`
	Instance         string            `json:"instance,omitempty"`
	Retryable        bool              `json:"retryable"`
	ValidationErrors []validationError `json:"validationErrors,omitempty"`
}

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	body := errorBody{Status: e.status, Message: e.message, Instance: s.hostname, ValidationErrors: e.validation}
	if len(e.validation) > 0 {
		body.Instance = ""
	}
	s.writeJSON(w, e.status, body)
}

// Buffers are pooled per server (never across servers), and only for
// bytes that do not outlive the request: JSON answers being written and
// request bodies that are decoded and dropped.
const maxPooled = 1 << 20

func (s *Server) getBuf() *bytes.Buffer {
	if b, ok := s.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (s *Server) putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooled {
		s.bufs.Put(b)
	}
}

func (s *Server) getEnc() *[]byte {
	if b, ok := s.encs.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (s *Server) putEnc(b *[]byte) {
	if cap(*b) <= maxPooled {
		s.encs.Put(b)
	}
}

// writeJSON encodes v with a pooled buffer and sends it with a
// Content-Length (no chunking).
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	buf := s.getBuf()
	defer s.putBuf(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		fmt.Fprintf(buf, `{"status":500,"message":%q,"retryable":false}`, "encode response: "+err.Error())
	} else {
		buf.Truncate(buf.Len() - 1) // Encode's trailing newline
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeText(w http.ResponseWriter, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, text)
}

func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// maxBody caps request bodies; real servers have limits too.
const maxBody = 64 << 20

// decode reads a JSON body into v. Malformed or missing JSON is a 500, as
// on the real server (the exception is not mapped).
func (s *Server) decode(r *http.Request, v any) *apiError {
	return s.withJSONBody(r, func(body []byte) error { return json.Unmarshal(body, v) })
}

// withJSONBody reads a JSON body (see readJSONBody) into a pooled buffer
// and decodes it with f, which must not keep the bytes; an error of f is
// the real server's 500 for unparsable JSON.
func (s *Server) withJSONBody(r *http.Request, f func(body []byte) error) *apiError {
	buf := s.getBuf()
	defer s.putBuf(buf)
	body, e := readJSONBodyInto(r, buf)
	if e != nil {
		return e
	}
	if err := f(body); err != nil {
		return serverError("JSON parse error: %v", err)
	}
	return nil
}

// readJSONBody reads the body of an endpoint that takes JSON. Like Spring's
// message converters it refuses any other Content-Type with a 500; a
// request without one counts as application/octet-stream. A missing body
// is a 500 too.
func readJSONBody(r *http.Request) ([]byte, *apiError) {
	return readJSONBodyInto(r, new(bytes.Buffer))
}

// readJSONBodyInto is readJSONBody reading into buf; the bytes it returns
// are buf's.
func readJSONBodyInto(r *http.Request, buf *bytes.Buffer) ([]byte, *apiError) {
	if e := checkJSONType(r.Header.Get("Content-Type")); e != nil {
		return nil, e
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, maxBody)); err != nil {
		return nil, serverError("read request body: %v", err)
	}
	if missingBody(buf.Bytes()) {
		return nil, serverError("Required request body is missing")
	}
	return buf.Bytes(), nil
}

// missingBody tells whether Spring counts a request body as missing: blank,
// or a bare JSON null (a required body argument cannot be null).
func missingBody(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

// badParam is Spring's 500 for a query or path parameter that does not
// convert to the handler's Java type.
func badParam(name, javaType, cause string) *apiError {
	return serverError("Method parameter '%s': Failed to convert value of type 'java.lang.String' to required type '%s'; %s", name, javaType, cause)
}

// atoiParam converts an integer parameter as Integer.parseInt does.
func atoiParam(name, javaType, v string) (int, *apiError) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, badParam(name, javaType, `For input string: "`+v+`"`)
	}
	return int(n), nil
}

// boolParam reads a boolean query parameter as Spring converts it: true,
// on, yes, 1 or false, off, no, 0 in any case; absent or blank gives def.
func boolParam(r *http.Request, name string, def bool) (bool, *apiError) {
	v := r.URL.Query().Get(name)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def, nil
	case "true", "on", "yes", "1":
		return true, nil
	case "false", "off", "no", "0":
		return false, nil
	}
	return false, badParam(name, "boolean", "Invalid boolean value ["+v+"]")
}

func checkJSONType(ct string) *apiError {
	const js = "application/json"
	if ct == js || (len(ct) > len(js) && ct[:len(js)] == js && (ct[len(js)] == ';' || ct[len(js)] == ' ')) {
		return nil // the common case, without parsing
	}
	if ct == "" {
		return serverError("Content-Type 'application/octet-stream' is not supported")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == js || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	shown := ct
	if mt == "text/plain" && !strings.Contains(strings.ToLower(ct), "charset") {
		shown += ";charset=UTF-8" // Spring names the charset it assumed
	}
	return serverError("Content-Type '%s' is not supported", shown)
}

func readBody(r *http.Request) ([]byte, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, serverError("read request body: %v", err)
	}
	return body, nil
}

func (s *Server) writeTask(w http.ResponseWriter, t *wire.Task) {
	bp := s.getEnc()
	*bp = wire.AppendTask(*bp, t)
	writeRaw(w, http.StatusOK, "application/json", *bp)
	s.putEnc(bp)
}

func writeRaw(w http.ResponseWriter, status int, ctype string, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{ctype}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
