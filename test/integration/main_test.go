// Package integration runs the SDK against a Conductor server over HTTP: the
// in-process dev server of sdk/conductortest by default, or the server named by
// CONDUCTOR_SERVER_URL (test/conductor/run.sh starts a real Conductor OSS and
// sets it). The same tests run unchanged against both; the few that need the
// dev server's fault injection skip themselves against an external server.
//
// An external server keeps its state between runs, so every name a test
// registers carries a random per-run suffix.
package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-go/baton/internal/devflags"
	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/conductortest"
	"github.com/baton-go/baton/sdk/settings"
)

// suite is what every test shares: the server, a client and the run's suffix.
type suite struct {
	url      string
	external bool                  // a server we did not start (real Conductor, Orkes)
	dev      *conductortest.Server // nil when external
	api      *client.APIClient
	auth     *settings.AuthenticationSettings
	http     *settings.HttpSettings
	hc       *http.Client
	runID    string
	// version is the Conductor release line that answers: the dev server's
	// profile, or the external server's CONDUCTOR_SERVER_VERSION (set by
	// test/conductor/run.sh); "" when unknown (e.g. Orkes).
	version conductortest.Version
}

var env suite

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	env.runID = randomHex(4)
	auth, hs, err := settings.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 2
	}
	if os.Getenv(settings.EnvServerURL) == "" {
		var opts []conductortest.Option
		if v := os.Getenv("CONDUCTORTEST_VERSION"); v != "" {
			pv, err := devflags.ParseVersion(v)
			if err != nil {
				fmt.Fprintln(os.Stderr, "integration: CONDUCTORTEST_VERSION:", err)
				return 2
			}
			opts = append(opts, conductortest.WithVersion(pv))
		}
		// External payload storage as make test-conductor configures the
		// real servers: the PostgreSQL kind, Conductor's default thresholds
		// (CONDUCTORTEST_PAYLOAD_STORE=presigned tries the upload path).
		store, err := devflags.ParsePayloadStore(os.Getenv("CONDUCTORTEST_PAYLOAD_STORE"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "integration: CONDUCTORTEST_PAYLOAD_STORE:", err)
			return 2
		}
		if os.Getenv("CONDUCTORTEST_PAYLOAD_STORE") == "" {
			store = "postgres"
		}
		opts = append(opts, conductortest.WithExternalPayloadStorage(store, conductortest.PayloadLimits{}))
		env.dev = conductortest.NewServer(opts...)
		env.version = env.dev.Version()
		hs = settings.NewHttpSettings(env.dev.URL())
		auth = nil
	} else {
		env.external = true
		env.version, _ = devflags.ParseVersion(os.Getenv("CONDUCTOR_SERVER_VERSION"))
	}
	env.url = hs.BaseUrl
	env.auth, env.http = auth, hs

	// One transport for the whole run, closed at the end so that goleak does
	// not see its keep-alive goroutines.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	env.hc = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	env.api, err = client.New(auth, hs, client.WithHTTPClient(env.hc))
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 2
	}
	if err := waitHealthy(env.url, 30*time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "integration: server at %s is not usable: %v\n", env.url, err)
		return 2
	}
	where := "in-process dev server"
	if env.external {
		where = "external server"
	}
	fmt.Fprintf(os.Stderr, "integration: %s at %s (Conductor %q), run id %s\n", where, env.url, env.version, env.runID)

	code := m.Run()

	tr.CloseIdleConnections()
	if env.dev != nil {
		env.dev.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "integration: goroutines leaked:", err)
			return 1
		}
	}
	return code
}

// waitHealthy checks GET {root}/health, which every Conductor version serves
// outside /api.
func waitHealthy(apiURL string, within time.Duration) error {
	root := strings.TrimSuffix(strings.TrimSuffix(apiURL, "/"), "/api")
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, root+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				http.DefaultClient.CloseIdleConnections()
				return nil
			}
			err = fmt.Errorf("GET %s/health: %d %s", root, resp.StatusCode, body)
		}
		cancel()
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	http.DefaultClient.CloseIdleConnections()
	return last
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
