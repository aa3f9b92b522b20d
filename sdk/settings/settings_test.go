package settings

import (
	"fmt"
	"strings"
	"testing"
)

func TestAuthenticationSettingsNeverPrintTheSecret(t *testing.T) {
	a := NewAuthenticationSettings("key-1", "s3cr3t-value")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		out := fmt.Sprintf(verb, a)
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("%s printed the secret: %s", verb, out)
		}
		if verb == "%v" && !strings.Contains(out, "key-1") {
			t.Errorf("%%v should show the key id: %s", out)
		}
	}
	// Inside a struct, and as a dereferenced copy, too.
	for _, out := range []string{fmt.Sprintf("%+v", struct{ A *AuthenticationSettings }{a}), fmt.Sprintf("%+v %#v", *a, *a),
		fmt.Sprintf("%v", []*AuthenticationSettings{a})} {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("nested or copied value printed the secret: %s", out)
		}
	}
	if a.KeySecret() != "s3cr3t-value" || a.KeyId() != "key-1" || !a.Enabled() {
		t.Error("accessors wrong")
	}
}

func TestAuthenticationValidate(t *testing.T) {
	tests := []struct {
		key, secret string
		wantErr     string
	}{
		{"", "", ""},
		{"k", "s", ""},
		{"k", "", `KeySecret must be set when KeyId is set (KeyId "k")`},
		{"", "s", "KeyId must be set"},
	}
	for _, tc := range tests {
		err := NewAuthenticationSettings(tc.key, tc.secret).Validate()
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("(%q,%q): unexpected %v", tc.key, tc.secret, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("(%q,%q): err = %v, want %q", tc.key, tc.secret, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "\"s\"") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	var nilAuth *AuthenticationSettings
	if nilAuth.Validate() != nil || nilAuth.Enabled() {
		t.Error("nil auth must be valid and disabled")
	}
}

func TestHttpSettingsValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(h *HttpSettings)
		wantErr string
	}{
		{"ok", func(h *HttpSettings) {}, ""},
		{"https ok", func(h *HttpSettings) { h.BaseUrl = "https://x.example/api" }, ""},
		{"no scheme", func(h *HttpSettings) { h.BaseUrl = "localhost:8080/api" }, `settings: BaseUrl must be an absolute http(s) URL, got "localhost:8080/api"`},
		{"query", func(h *HttpSettings) { h.BaseUrl = "http://h/api?x=1" }, `must not carry a query, fragment or user info, got "http://h/api?x=1"`},
		{"user info is not echoed", func(h *HttpSettings) { h.BaseUrl = "http://u:pw@h/api" }, `got "http://%5Bredacted%5D@h/api"`},
		{"bad header name", func(h *HttpSettings) { h.Headers["Bad Name"] = "x" }, `invalid header name "Bad Name"`},
		{"header value with newline", func(h *HttpSettings) { h.Headers["X-Key"] = "a\r\nInjected: 1" }, `Headers["X-Key"] must not contain CR, LF or NUL`},
		{"no host", func(h *HttpSettings) { h.BaseUrl = "http:///api" }, `got "http:///api"`},
		{"ftp", func(h *HttpSettings) { h.BaseUrl = "ftp://h/api" }, `got "ftp://h/api"`},
		{"empty", func(h *HttpSettings) { h.BaseUrl = "" }, `got ""`},
		{"negative timeout", func(h *HttpSettings) { h.Timeout = -1 }, "Timeout must be >= 0, got -1ns"},
		{"cert without key", func(h *HttpSettings) { h.TLS.ClientCertFile = "c.pem" }, `ClientCertFile and TLS.ClientKeyFile must be set together, got "c.pem" and ""`},
		{"pem cert without key", func(h *HttpSettings) { h.TLS.ClientCertPEM = []byte("x") }, "ClientCertPEM and TLS.ClientKeyPEM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHttpSettings("http://localhost:8080/api")
			tc.mod(h)
			err := h.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestHttpSettingsNeverPrintHeaderValuesOrKeys(t *testing.T) {
	h := NewHttpSettings("https://u:pa55word@c.example/api")
	h.Headers["X-Gateway-Key"] = "gw-s3cr3t"
	h.TLS.ClientKeyPEM = []byte("-----BEGIN EC PRIVATE KEY-----k3y-s3cr3t")
	h.TLS.ClientCertPEM = []byte("cert")
	outs := []string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outs = append(outs, fmt.Sprintf(verb, h), fmt.Sprintf(verb, *h), fmt.Sprintf(verb, h.TLS))
	}
	outs = append(outs, fmt.Sprintf("%+v", struct{ H *HttpSettings }{h}), fmt.Sprintf("%+v", struct{ H HttpSettings }{*h}))
	for _, out := range outs {
		for _, secret := range []string{"gw-s3cr3t", "k3y-s3cr3t", "pa55word"} {
			if strings.Contains(out, secret) {
				t.Errorf("printed %q: %s", secret, out)
			}
		}
	}
	if !strings.Contains(outs[0], "X-Gateway-Key") || !strings.Contains(outs[0], "c.example") {
		t.Errorf("%%v should still show the header names and host: %s", outs[0])
	}
	var nilHTTP *HttpSettings
	if got := fmt.Sprintf("%v", nilHTTP); got != "<nil>" {
		t.Errorf("nil settings printed %q", got)
	}
}

func TestMetricsSettings(t *testing.T) {
	d := NewDefaultMetricsSettings()
	if d.Port != 2112 || d.ApiEndpoint != "/metrics" || d.Host != "" || d.Validate() != nil {
		t.Fatalf("defaults = %+v", d)
	}
	if err := NewMetricsSettings("/m", 70000).Validate(); err == nil || !strings.Contains(err.Error(), "Port must be between 0 and 65535, got 70000") {
		t.Errorf("port error = %v", err)
	}
	if err := NewMetricsSettings("m", 1).Validate(); err == nil || !strings.Contains(err.Error(), `ApiEndpoint must start with /, got "m"`) {
		t.Errorf("path error = %v", err)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost", "metrics.internal"} {
		m := NewMetricsSettings("/metrics", 2112)
		m.Host = host
		if err := m.Validate(); err != nil {
			t.Errorf("Host %q: %v", host, err)
		}
	}
	for _, host := range []string{"127.0.0.1:9090", "[::1]"} {
		m := NewMetricsSettings("/metrics", 2112)
		m.Host = host
		want := fmt.Sprintf("Host must be a host name or IP address without a port, got %q", host)
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Host %q: err = %v, want %q", host, err, want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	a, h, err := fromLookup(env(nil))
	if err != nil || h.BaseUrl != DefaultServerURL || a.Enabled() {
		t.Fatalf("empty env: %v %v %v", a, h, err)
	}
	a, h, err = fromLookup(env(map[string]string{EnvServerURL: "https://c.example/api", EnvAuthKey: "k", EnvAuthSecret: "s"}))
	if err != nil || h.BaseUrl != "https://c.example/api" || !a.Enabled() || a.KeyId() != "k" {
		t.Fatalf("full env: %v %v %v", a, h, err)
	}
	_, _, err = fromLookup(env(map[string]string{EnvServerURL: "nope"}))
	if err == nil || !strings.Contains(err.Error(), "CONDUCTOR_SERVER_URL") || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("bad url err = %v", err)
	}
	_, _, err = fromLookup(env(map[string]string{EnvAuthKey: "k"}))
	if err == nil || !strings.Contains(err.Error(), `CONDUCTOR_AUTH_SECRET must be set when CONDUCTOR_AUTH_KEY is set (CONDUCTOR_AUTH_KEY="k")`) {
		t.Fatalf("key without secret err = %v", err)
	}
	_, _, err = fromLookup(env(map[string]string{EnvAuthSecret: "s3cr3t"}))
	if err == nil || !strings.Contains(err.Error(), "CONDUCTOR_AUTH_KEY must be set when CONDUCTOR_AUTH_SECRET is set") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("secret without key err = %v", err)
	}
	t.Setenv(EnvServerURL, "http://127.0.0.1:9/api")
	t.Setenv(EnvAuthKey, "")
	t.Setenv(EnvAuthSecret, "")
	if _, h, err := FromEnv(); err != nil || h.BaseUrl != "http://127.0.0.1:9/api" {
		t.Fatalf("FromEnv = %v %v", h, err)
	}
}
