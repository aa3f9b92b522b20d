package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
)

type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "baton test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key signed by the CA.
func (ca *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func tlsServer(t *testing.T, ca *testCA, requireClientCert bool) *httptest.Server {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, "server", true)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []model.Task{})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// Refused handshakes are the point of some tests; keep them out of the output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if requireClientCert {
		pool := x509.NewCertPool()
		pool.AddCert(ca.cert)
		srv.TLS.ClientCAs = pool
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func pollWith(t *testing.T, url string, tlsSettings settings.TLSSettings) error {
	t.Helper()
	h := settings.NewHttpSettings(url + "/api")
	h.TLS = tlsSettings
	c, err := New(nil, h, WithRetryPolicy(RetryPolicy{MaxAttempts: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		return err
	}
	_, err = c.Tasks().BatchPoll(context.Background(), "t", PollOptions{Count: 1})
	if tr, ok := c.rc.GetClient().Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	return err
}

func TestTLSCustomRootCA(t *testing.T) {
	ca := newCA(t)
	srv := tlsServer(t, ca, false)
	if err := pollWith(t, srv.URL, settings.TLSSettings{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown CA accepted: %v", err)
	}
	if err := pollWith(t, srv.URL, settings.TLSSettings{CAPEM: ca.certPEM}); err != nil {
		t.Fatalf("custom root from memory: %v", err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, ca.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pollWith(t, srv.URL, settings.TLSSettings{CAFile: file}); err != nil {
		t.Fatalf("custom root from file: %v", err)
	}
	if err := pollWith(t, srv.URL, settings.TLSSettings{InsecureSkipVerify: true}); err != nil {
		t.Fatalf("explicit opt-out: %v", err)
	}
	if err := pollWith(t, srv.URL, settings.TLSSettings{CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil || !strings.Contains(err.Error(), "TLS.CAFile") {
		t.Fatalf("missing CA file: %v", err)
	}
	if err := pollWith(t, srv.URL, settings.TLSSettings{CAPEM: []byte("not a certificate")}); err == nil || !strings.Contains(err.Error(), "TLS.CAPEM holds no PEM certificate") {
		t.Fatalf("garbage CA: %v", err)
	}
	// A CA that did not sign the server's certificate is no opt-out either.
	if err := pollWith(t, srv.URL, settings.TLSSettings{CAPEM: newCA(t).certPEM}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("certificate of another CA accepted: %v", err)
	}
}

func TestTLSMutual(t *testing.T) {
	ca := newCA(t)
	srv := tlsServer(t, ca, true)
	if err := pollWith(t, srv.URL, settings.TLSSettings{CAPEM: ca.certPEM}); err == nil {
		t.Fatal("server requiring a client certificate accepted none")
	}
	certPEM, keyPEM := ca.issue(t, "worker", false)
	if err := pollWith(t, srv.URL, settings.TLSSettings{CAPEM: ca.certPEM, ClientCertPEM: certPEM, ClientKeyPEM: keyPEM}); err != nil {
		t.Fatalf("mutual TLS from memory: %v", err)
	}
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_ = os.WriteFile(cf, certPEM, 0o600)
	_ = os.WriteFile(kf, keyPEM, 0o600)
	if err := pollWith(t, srv.URL, settings.TLSSettings{CAPEM: ca.certPEM, ClientCertFile: cf, ClientKeyFile: kf}); err != nil {
		t.Fatalf("mutual TLS from files: %v", err)
	}
	// A client certificate from another CA is refused.
	other := newCA(t)
	oc, ok := other.issue(t, "intruder", false)
	if err := pollWith(t, srv.URL, settings.TLSSettings{CAPEM: ca.certPEM, ClientCertPEM: oc, ClientKeyPEM: ok}); err == nil {
		t.Fatal("client certificate of an unknown CA accepted")
	}
}

func TestTLSSettingsWithOwnHTTPClientIsAnError(t *testing.T) {
	h := settings.NewHttpSettings("https://127.0.0.1:1/api")
	h.TLS.InsecureSkipVerify = true
	_, err := New(nil, h, WithHTTPClient(&http.Client{}))
	if err == nil || !strings.Contains(err.Error(), "HttpSettings.TLS cannot be combined with WithHTTPClient") {
		t.Fatalf("err = %v", err)
	}
}
