package main

import (
	"bufio"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func backend(t *testing.T, name string) *url.URL {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			// A response of known length (as Conductor's poll answers are):
			// the first line now, the rest never, until the client leaves.
			first := name + " first\n"
			w.Header().Set("Content-Length", strconv.Itoa(len(first)+len("rest\n")))
			_, _ = io.WriteString(w, first)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRequestsAlternateBetweenNodes(t *testing.T) {
	p := httptest.NewServer(newProxy([]*url.URL{backend(t, "one"), backend(t, "two")}, log.New(io.Discard, "", 0)))
	defer p.Close()
	var got []string
	for range 4 {
		resp, err := http.Get(p.URL + "/api/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got = append(got, string(b)+"@"+resp.Header.Get("X-Lbproxy-Backend"))
	}
	if want := "one@0 two@1 one@0 two@1"; strings.Join(got, " ") != want {
		t.Fatalf("answers %v, want %s", got, want)
	}
}

// A held response is passed on as the node writes it, not when it ends.
func TestHeldResponseIsNotBuffered(t *testing.T) {
	p := httptest.NewServer(newProxy([]*url.URL{backend(t, "one")}, log.New(io.Discard, "", 0)))
	defer p.Close()
	resp, err := http.Get(p.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "one first\n" {
		t.Fatalf("first line %q, %v; want it while the node still holds the response", line, err)
	}
}

func TestNodeDownAnswers502(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	u, err := url.Parse(gone.URL)
	if err != nil {
		t.Fatal(err)
	}
	gone.Close() // its address now refuses connections
	p := httptest.NewServer(newProxy([]*url.URL{backend(t, "one"), u}, log.New(io.Discard, "", 0)))
	defer p.Close()
	var codes []int
	for range 2 {
		resp, err := http.Get(p.URL + "/api/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != http.StatusOK || codes[1] != http.StatusBadGateway {
		t.Fatalf("statuses %v, want [200 502]: the live node answers, the one that is down gets 502", codes)
	}
}
