// Command lbproxy is the load balancer of test/conductor/run.sh's cluster mode
// (CONDUCTOR_NODES=2): a round-robin HTTP reverse proxy in front of several
// Conductor nodes that share one store, as Conductor runs in production.
//
//	lbproxy -listen 127.0.0.1:PORT -backend http://127.0.0.1:P1 -backend http://127.0.0.1:P2
//
// Each request goes to the next backend in turn, whatever its path or client
// (no stickiness, no health checks: a node that is down answers 502 for its
// share of the requests, as behind a plain round-robin balancer). Bodies are
// streamed both ways and responses flushed at once, so a held long poll stays
// held on its node until that node answers, and a client that goes away
// cancels the request to the node. Every response carries X-Lbproxy-Backend,
// the index of the node that served it. SIGTERM or SIGINT stops it: requests
// under way get two seconds, then their connections are closed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type backends []*url.URL

func (b *backends) String() string {
	s := make([]string, len(*b))
	for i, u := range *b {
		s[i] = u.String()
	}
	return strings.Join(s, ",")
}

func (b *backends) Set(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("backend %q: want http://host:port", v)
	}
	*b = append(*b, u)
	return nil
}

// newProxy returns the round-robin handler over targets.
func newProxy(targets []*url.URL, logger *log.Logger) http.Handler {
	var next atomic.Uint64
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Many workers hold polls at once; keep their connections instead of
	// opening one per request.
	transport.MaxIdleConns = 1024
	transport.MaxIdleConnsPerHost = 512
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := int((next.Add(1) - 1) % uint64(len(targets)))
			r.SetURL(targets[i])
			r.Out.Host = r.In.Host
			// Carried to ModifyResponse/ErrorHandler through the request's header.
			r.Out.Header.Set("X-Lbproxy-Backend", strconv.Itoa(i))
		},
		Transport:     transport,
		FlushInterval: -1, // flush every write: nothing is held back
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Lbproxy-Backend", resp.Request.Header.Get("X-Lbproxy-Backend"))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			node := r.Header.Get("X-Lbproxy-Backend")
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			logger.Printf("node %s: %s %s: %v", node, r.Method, r.URL.Path, err)
			w.Header().Set("X-Lbproxy-Backend", node)
			http.Error(w, "lbproxy: node "+node+": "+err.Error(), http.StatusBadGateway)
		},
		ErrorLog: logger,
	}
}

func main() {
	var targets backends
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Var(&targets, "backend", "a node's base URL (http://host:port); repeat for each node")
	flag.Parse()
	logger := log.New(os.Stderr, "lbproxy: ", log.LstdFlags|log.Lmicroseconds)
	if len(targets) == 0 {
		logger.Fatal("no -backend given")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logger.Fatal(err)
	}
	srv := &http.Server{Handler: newProxy(targets, logger), ErrorLog: logger, ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("listening on %s, round robin over %s", ln.Addr(), targets.String())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		logger.Fatal(err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	logger.Print("stopped")
}
