package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-resty/resty/v2"
)

// The direct lane. A worker at full speed makes one poll or result update
// per task, and resty's per-request pipeline (building a resty.Request,
// its middlewares, header merging, copying the body into pooled buffers and
// again into the http.Request) cost 6-9 µs of the ~77 µs of worker CPU per
// task in a profile at batch 100. The hot calls (call.direct: Poll,
// BatchPoll, UpdateTask, UpdateTaskV2) therefore build their http.Request
// by hand and send it on the http.Client resty owns (its GetClient), so
// the transport, TLS, redirect policy (keepTokenAtHome) and the rest of that
// client's set-up, and the response size cap, are the ones resty uses.
// Everything resty would do for these requests is done here the same way:
// see sendDirect. The answer goes through the same code as resty's (send,
// apiError), so results and errors are the same.

// sendDirect makes the exchange of cl on c.hc without resty. It sends what
// resty sends for the same call (URL with path-escaped parameters and the
// encoded query, requestHeader's headers, the Host header as the request's
// host, no body on GET) and reads the answer as resty does (a gzip body the
// transport left compressed is decompressed; the body is capped at resty's
// ResponseBodyLimit, failing with resty.ErrResponseBodyTooLarge).
func (c *APIClient) sendDirect(ctx context.Context, cl call, token string) (exchange, error) {
	target := c.base + expandRoute(cl.route, cl.pathParams)
	if q := cl.query.Encode(); q != "" {
		target += "?" + q
	}
	var body io.Reader
	if cl.body != nil && payloadAllowed(cl.method) {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return exchange{}, err
	}
	req.Header = c.requestHeader(cl, token)
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return exchange{}, err
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	// The transport removes Content-Encoding when it decompressed the body
	// itself, so a gzip header here means the body is still compressed.
	if strings.EqualFold(res.Header.Get("Content-Encoding"), "gzip") && res.ContentLength != 0 {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return exchange{}, err
		}
		defer zr.Close()
		r = zr
	}
	b, err := readCapped(r, c.rc.ResponseBodyLimit, res.ContentLength)
	if err != nil {
		return exchange{}, err
	}
	return exchange{status: res.StatusCode, header: res.Header, body: b, path: req.URL.Path}, nil
}

// payloadAllowed says whether resty sends a body with method (it drops the
// body of GET, HEAD and OPTIONS requests).
func payloadAllowed(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// expandRoute fills the {name} placeholders of a route template with the
// path-escaped values of params; a placeholder without a value stays as it
// is (as in resty).
func expandRoute(route string, params map[string]string) string {
	if len(params) == 0 {
		return route
	}
	var b strings.Builder
	b.Grow(len(route) + 32)
	for {
		i := strings.IndexByte(route, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(route[i:], '}')
		if j < 0 {
			break
		}
		j += i
		b.WriteString(route[:i])
		if v, ok := params[route[i+1:j]]; ok {
			b.WriteString(url.PathEscape(v))
		} else {
			b.WriteString(route[i : j+1])
		}
		route = route[j+1:]
	}
	b.WriteString(route)
	return b.String()
}

// readCapped reads r to its end. With limit > 0, more than limit bytes fail
// with resty.ErrResponseBodyTooLarge (checked before any read error, as
// resty does) and stop the reading. size is the announced length, used to
// size the buffer when it is within the limit; otherwise the buffer doubles
// as it fills (a batch of 100 tasks is some 50 KiB, usually sent chunked),
// up to the limit and one byte.
func readCapped(r io.Reader, limit int, size int64) ([]byte, error) {
	if limit <= 0 {
		return io.ReadAll(r)
	}
	n := 512
	if size > 0 && size < int64(limit) {
		n = int(size) + 1 // one spare byte, so that reading the EOF needs no growth
	}
	b := make([]byte, 0, min(n, limit+1))
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(cap(b), limit+1-len(b)))
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if len(b) > limit {
			return nil, resty.ErrResponseBodyTooLarge
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
