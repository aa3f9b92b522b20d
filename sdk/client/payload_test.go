package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

func TestPayloadThresholdsFromEnv(t *testing.T) {
	env := map[string]string{
		"CONDUCTOR_APP_TASKOUTPUTPAYLOADSIZETHRESHOLD":    "3MB",
		"CONDUCTOR_APP_MAXTASKOUTPUTPAYLOADSIZETHRESHOLD": "20480", // KB, as the server reads a plain number
		"CONDUCTOR_APP_TASKINPUTPAYLOADSIZETHRESHOLD":     "512 kb",
	}
	got, err := payloadThresholdsFromEnv(DefaultPayloadThresholds(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if got.TaskOutput != 3<<20 || got.MaxTaskOutput != 20480<<10 || got.TaskInput != 512<<10 || got.MaxTaskInput != 10240<<10 {
		t.Errorf("thresholds %+v", got)
	}
	_, err = payloadThresholdsFromEnv(DefaultPayloadThresholds(), func(k string) (string, bool) {
		return "lots", k == "CONDUCTOR_APP_MAXWORKFLOWINPUTPAYLOADSIZETHRESHOLD"
	})
	if err == nil || !strings.Contains(err.Error(), "CONDUCTOR_APP_MAXWORKFLOWINPUTPAYLOADSIZETHRESHOLD") {
		t.Errorf("bad value: %v, want an error naming the variable", err)
	}
}

// payloadServer answers READ locations with the given URI and serves
// /api/external/postgres/{key} with body, recording the headers it got.
type payloadServer struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
}

func newPayloadServer(t *testing.T, uri func(base string) string, body string) *payloadServer {
	t.Helper()
	ps := &payloadServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/tasks/externalstoragelocation", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"uri":"`+uri(ps.URL)+`","path":"`+r.URL.Query().Get("path")+`"}`)
	})
	serve := func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.headers = append(ps.headers, r.Header.Clone())
		ps.mu.Unlock()
		_, _ = io.WriteString(w, body)
	}
	mux.HandleFunc("GET /api/external/postgres/{key}", serve)
	mux.HandleFunc("GET /signed/{key}", serve)
	ps.Server = httptest.NewServer(mux)
	t.Cleanup(ps.Close)
	return ps
}

func TestFetchTaskInputReadsThroughTheLocation(t *testing.T) {
	// PostgreSQL without conductor-url answers a relative URI.
	ps := newPayloadServer(t, func(string) string { return "/api/external/postgres/k.json" }, `{"blob":"abc","n":2}`)
	c, err := New(nil, &settings.HttpSettings{BaseUrl: ps.URL + "/api", Headers: map[string]string{"X-Tenant": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	tk := &model.Task{TaskId: "t", ExternalInputPayloadStoragePath: "k.json", InputData: map[string]interface{}{}}
	if err := c.Tasks().FetchTaskInput(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	if tk.InputData["blob"] != "abc" || tk.InputData["n"] != 2.0 {
		t.Errorf("input %v", tk.InputData)
	}
	if h := ps.headers[0].Get("X-Tenant"); h != "t1" {
		t.Errorf("the server's own payload route got X-Tenant %q, want the configured header", h)
	}
}

// A pre-signed URL on another origin gets neither the configured headers
// nor the token, and its signature never appears in an error.
func TestFetchTaskInputKeepsHeadersAtHomeAndSignaturesOutOfErrors(t *testing.T) {
	other := newPayloadServer(t, func(string) string { return "" }, `not json`)
	ps := newPayloadServer(t, func(string) string { return other.URL + "/signed/k.json?X-Amz-Signature=SECRETSIG" }, ``)
	c, err := New(nil, &settings.HttpSettings{BaseUrl: ps.URL + "/api", Headers: map[string]string{"X-Tenant": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	tk := &model.Task{TaskId: "t", ExternalInputPayloadStoragePath: "k.json"}
	err = c.Tasks().FetchTaskInput(context.Background(), tk)
	if !errors.Is(err, ErrDecode) || strings.Contains(err.Error(), "SECRETSIG") {
		t.Errorf("error %v; want ErrDecode without the signature", err)
	}
	if len(other.headers) != 1 || other.headers[0].Get("X-Tenant") != "" {
		t.Errorf("foreign origin got headers %v", other.headers)
	}
	if len(tk.InputData) != 0 {
		t.Errorf("input set to %v after a failed read", tk.InputData)
	}
}

// Conductor's PostgreSQL store answers 200 with an error object for a key
// it does not have; that is not an input.
func TestFetchTaskInputRefusesPostgresMissingKeyAnswer(t *testing.T) {
	ps := newPayloadServer(t, func(base string) string { return base + "/api/external/postgres/k.json" },
		`{"Error": "Data with this ID does not exist or has been deleted from the external storage."}`)
	c := NewAPIClient(nil, settings.NewHttpSettings(ps.URL+"/api"))
	tk := &model.Task{TaskId: "t", ExternalInputPayloadStoragePath: "k.json"}
	if err := c.Tasks().FetchTaskInput(context.Background(), tk); !errors.Is(err, ErrPayloadUnavailable) {
		t.Errorf("got %v, want ErrPayloadUnavailable", err)
	}
}

// The server's default store gives a location without a URI: unreadable.
func TestFetchTaskInputWithoutURIIsUnavailable(t *testing.T) {
	ps := newPayloadServer(t, func(string) string { return "" }, ``)
	c := NewAPIClient(nil, settings.NewHttpSettings(ps.URL+"/api"))
	err := c.Tasks().FetchTaskInput(context.Background(), &model.Task{TaskId: "t", ExternalInputPayloadStoragePath: "k.json"})
	if !errors.Is(err, ErrPayloadUnavailable) || !strings.Contains(err.Error(), "external-payload-storage.type") {
		t.Errorf("got %v", err)
	}
}

func TestStoreTaskOutputOverLimit(t *testing.T) {
	c := NewAPIClient(nil, settings.NewHttpSettings("http://127.0.0.1:1/api"))
	r := &model.TaskResult{TaskId: "t", WorkflowInstanceId: "w", OutputData: map[string]interface{}{"x": strings.Repeat("x", 11<<20)}}
	_, err := c.Tasks().StoreTaskOutput(context.Background(), r, -1)
	var tl *PayloadTooLargeError
	if !errors.As(err, &tl) || tl.Size != int64(11<<20+8) || tl.Limit != 10<<20 || !strings.Contains(err.Error(), "task output") {
		t.Errorf("got %v", err)
	}
}
