package client

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go-resty/resty/v2"
)

// TestAnswerBodiesAreReadWhole: the client reads answers itself instead of
// through resty; every shape of body must come out as resty gave it, and
// the size limit must still hold.
func TestAnswerBodiesAreReadWhole(t *testing.T) {
	long := strings.Repeat("x", 3000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(long))
	_ = zw.Close()
	type tc struct {
		name    string
		body    io.ReadCloser
		cl      int64
		enc     string
		limit   int64
		want    string
		tooBig  bool
		wantErr bool
	}
	rc := func(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
	for _, c := range []tc{
		{name: "content-length", body: rc(long), cl: 3000, limit: 5000, want: long},
		{name: "chunked", body: rc(long), cl: -1, limit: 5000, want: long},
		{name: "empty", body: http.NoBody, cl: 0, limit: 5000, want: ""},
		{name: "zero length announced by a hand-made response", body: rc("task-1"), cl: 0, limit: 5000, want: "task-1"},
		{name: "more than announced", body: rc(long), cl: 10, limit: 5000, want: long},
		{name: "announced over the limit", body: rc(long), cl: 3000, limit: 2999, tooBig: true},
		{name: "chunked over the limit", body: rc(long), cl: -1, limit: 2999, tooBig: true},
		{name: "more than announced, over the limit", body: rc(long), cl: 10, limit: 2999, tooBig: true},
		{name: "exactly the limit", body: rc(long), cl: -1, limit: 3000, want: long},
		{name: "gzip left compressed by the transport", body: io.NopCloser(bytes.NewReader(gz.Bytes())), cl: int64(gz.Len()), enc: "gzip", limit: 5000, want: long},
		{name: "cut short", body: rc("abc"), cl: 10, limit: 5000, wantErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := &http.Response{Body: c.body, ContentLength: c.cl, Header: http.Header{}}
			if c.enc != "" {
				res.Header.Set("Content-Encoding", c.enc)
			}
			got, err := readBody(res, c.limit, &sync.Pool{})
			switch {
			case c.tooBig:
				if !errors.Is(err, resty.ErrResponseBodyTooLarge) {
					t.Fatalf("err = %v, want resty.ErrResponseBodyTooLarge", err)
				}
			case c.wantErr:
				if err == nil {
					t.Fatalf("no error for a body cut short (%q)", got)
				}
			default:
				if err != nil || string(got) != c.want || got == nil {
					t.Fatalf("got %d bytes (nil %v), %v; want %d bytes", len(got), got == nil, err, len(c.want))
				}
			}
		})
	}
}

// TestAnswerBodiesOfUnknownLengthDoNotShareMemory: chunked answers are read
// through a reused buffer; each answer must be a copy of its own, since
// decoded strings may point into it.
func TestAnswerBodiesOfUnknownLengthDoNotShareMemory(t *testing.T) {
	pool := &sync.Pool{}
	read := func(s string) []byte {
		b, err := readBody(&http.Response{Body: io.NopCloser(strings.NewReader(s)), ContentLength: -1, Header: http.Header{}}, 1<<20, pool)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := read(`[{"taskId":"first"}]`)
	second := read(`[{"taskId":"other"}]`)
	if string(first) != `[{"taskId":"first"}]` || string(second) != `[{"taskId":"other"}]` {
		t.Fatalf("first %q, second %q", first, second)
	}
}
