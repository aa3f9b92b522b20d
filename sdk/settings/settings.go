// Package settings holds the configuration of the Conductor client: where the
// server is, how to authenticate, how to reach it over TLS, and where to
// serve metrics. Constructors never fail; Validate reports bad values with
// an error naming the field and the value, and the client calls it before
// any request so that a mistake surfaces at once, not as a panic later.
package settings

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// Environment variables read by FromEnv.
const (
	EnvServerURL  = "CONDUCTOR_SERVER_URL"
	EnvAuthKey    = "CONDUCTOR_AUTH_KEY"
	EnvAuthSecret = "CONDUCTOR_AUTH_SECRET"
)

// DefaultServerURL is used by FromEnv when CONDUCTOR_SERVER_URL is unset: a
// Conductor OSS server on its default port.
const DefaultServerURL = "http://localhost:8080/api"

// DefaultRequestTimeout caps each request other than long polls, whose
// deadline is the poll timeout plus this value.
const DefaultRequestTimeout = 30 * time.Second

// AuthenticationSettings are the application key id and secret used to get
// tokens from an Orkes server. Both empty means no authentication (Conductor
// OSS). The secret is never printed: String and Format redact it.
type AuthenticationSettings struct {
	keyId     string
	keySecret string
}

// NewAuthenticationSettings returns settings for the given key id and secret.
func NewAuthenticationSettings(keyId, keySecret string) *AuthenticationSettings {
	return &AuthenticationSettings{keyId: keyId, keySecret: keySecret}
}

// KeyId returns the key id.
func (a *AuthenticationSettings) KeyId() string {
	if a == nil {
		return ""
	}
	return a.keyId
}

// KeySecret returns the secret. Only the token request should call it.
func (a *AuthenticationSettings) KeySecret() string {
	if a == nil {
		return ""
	}
	return a.keySecret
}

// Enabled reports whether a key id and secret are set.
func (a *AuthenticationSettings) Enabled() bool {
	return a != nil && a.keyId != "" && a.keySecret != ""
}

// Validate checks that the key id and secret are both set or both empty.
func (a *AuthenticationSettings) Validate() error {
	if a == nil {
		return nil
	}
	switch {
	case a.keyId != "" && a.keySecret == "":
		return fmt.Errorf("settings: KeySecret must be set when KeyId is set (KeyId %q)", a.keyId)
	case a.keyId == "" && a.keySecret != "":
		return errors.New("settings: KeyId must be set when KeySecret is set")
	}
	return nil
}

// String shows the key id and hides the secret.
func (a *AuthenticationSettings) String() string {
	if a == nil {
		return "AuthenticationSettings(nil)"
	}
	secret := ""
	if a.keySecret != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("AuthenticationSettings{KeyId: %q, KeySecret: %s}", a.keyId, secret)
}

// GoString is String, so %#v redacts too.
func (a *AuthenticationSettings) GoString() string { return a.String() }

// Format makes every verb (%v, %+v, %s, %q, %#v ...) print the redacted
// form. It has a value receiver so that printing a dereferenced copy
// redacts as well.
func (a AuthenticationSettings) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte((&a).String()))
}

// TLSSettings configure how the server's certificate is checked and which
// client certificate is presented. The zero value uses the system roots.
type TLSSettings struct {
	// CAFile and CAPEM add a custom root CA (PEM) to trust, for servers with
	// a private or self-signed certificate. Either or both may be set.
	CAFile string
	CAPEM  []byte
	// ClientCertFile and ClientKeyFile (PEM) enable mutual TLS; set both or
	// neither. ClientCertPEM/ClientKeyPEM do the same from memory.
	ClientCertFile string
	ClientKeyFile  string
	ClientCertPEM  []byte
	ClientKeyPEM   []byte
	// InsecureSkipVerify accepts any server certificate. Only for tests and
	// only by explicit choice: it is never turned on implicitly.
	InsecureSkipVerify bool
	// ServerName overrides the name checked in the server's certificate.
	ServerName string
}

// HttpSettings say where the server is and how requests are made.
type HttpSettings struct {
	// BaseUrl is the API root, including the /api suffix, e.g.
	// http://localhost:8080/api.
	BaseUrl string
	// Headers are added to every request.
	Headers map[string]string
	// Timeout caps each request other than long polls (those get their poll
	// timeout on top). Default DefaultRequestTimeout.
	Timeout time.Duration
	// TLS configures certificates for https URLs.
	TLS TLSSettings
}

// NewHttpSettings returns settings for the server at baseUrl with the
// default timeout.
func NewHttpSettings(baseUrl string) *HttpSettings {
	return &HttpSettings{BaseUrl: baseUrl, Headers: map[string]string{}, Timeout: DefaultRequestTimeout}
}

// Validate checks the URL, the timeout and the TLS pairs.
func (h *HttpSettings) Validate() error {
	if h == nil {
		return errors.New("settings: HttpSettings must not be nil")
	}
	u, err := url.Parse(h.BaseUrl)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("settings: BaseUrl must be an absolute http(s) URL, got %q (e.g. http://localhost:8080/api)", h.BaseUrl)
	}
	// Paths are appended to BaseUrl, so a query, fragment or user info
	// would end up in the wrong place (or in logs).
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("settings: BaseUrl must not carry a query, fragment or user info, got %q", redactURL(u))
	}
	if h.Timeout < 0 {
		return fmt.Errorf("settings: Timeout must be >= 0, got %s", h.Timeout)
	}
	t := h.TLS
	if (t.ClientCertFile == "") != (t.ClientKeyFile == "") {
		return fmt.Errorf("settings: TLS.ClientCertFile and TLS.ClientKeyFile must be set together, got %q and %q", t.ClientCertFile, t.ClientKeyFile)
	}
	if (len(t.ClientCertPEM) == 0) != (len(t.ClientKeyPEM) == 0) {
		return errors.New("settings: TLS.ClientCertPEM and TLS.ClientKeyPEM must be set together")
	}
	for k, v := range h.Headers {
		if !validHeaderName(k) {
			return fmt.Errorf("settings: Headers has an invalid header name %q", k)
		}
		// The value may be a credential: name the header, never the value.
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("settings: Headers[%q] must not contain CR, LF or NUL", k)
		}
	}
	return nil
}

// validHeaderName reports whether k is an HTTP token (RFC 9110 5.1).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

func redactURL(u *url.URL) string {
	cp := *u
	if cp.User != nil {
		cp.User = url.User("[redacted]")
	}
	return cp.String()
}

// String shows the settings with header values and the client key hidden:
// headers often carry credentials (API gateways, proxies).
func (h *HttpSettings) String() string {
	if h == nil {
		return "HttpSettings(nil)"
	}
	names := make([]string, 0, len(h.Headers))
	for k := range h.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	base := h.BaseUrl
	if u, err := url.Parse(h.BaseUrl); err == nil && u.User != nil {
		base = redactURL(u)
	}
	return fmt.Sprintf("HttpSettings{BaseUrl: %q, Headers: %v (values redacted), Timeout: %s, TLS: %s}", base, names, h.Timeout, h.TLS.String())
}

// GoString is String, so %#v redacts too.
func (h *HttpSettings) GoString() string { return h.String() }

// Format makes every verb print the redacted form (value receiver: a
// dereferenced copy redacts as well).
func (h HttpSettings) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte((&h).String())) }

// String describes the TLS settings without the client key.
func (t TLSSettings) String() string {
	key := ""
	if len(t.ClientKeyPEM) > 0 {
		key = "[redacted]"
	}
	return fmt.Sprintf("TLSSettings{CAFile: %q, CAPEM: %d bytes, ClientCertFile: %q, ClientKeyFile: %q, ClientCertPEM: %d bytes, ClientKeyPEM: %s, InsecureSkipVerify: %t, ServerName: %q}",
		t.CAFile, len(t.CAPEM), t.ClientCertFile, t.ClientKeyFile, len(t.ClientCertPEM), key, t.InsecureSkipVerify, t.ServerName)
}

// GoString is String, so %#v redacts too.
func (t TLSSettings) GoString() string { return t.String() }

// Format makes every verb print the redacted form.
func (t TLSSettings) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// MetricsSettings say where Prometheus metrics are served.
type MetricsSettings struct {
	// ApiEndpoint is the HTTP path, default "/metrics".
	ApiEndpoint string
	// Port is the TCP port, default 2112. 0 lets the system choose.
	Port int
	// Host is the interface to listen on, for example "127.0.0.1" to keep
	// the endpoint off the network. Default "": every interface, as in the
	// original SDK.
	Host string
}

// Default metrics endpoint.
const (
	DefaultMetricsPath = "/metrics"
	DefaultMetricsPort = 2112
)

// NewDefaultMetricsSettings serves /metrics on port 2112.
func NewDefaultMetricsSettings() *MetricsSettings {
	return &MetricsSettings{ApiEndpoint: DefaultMetricsPath, Port: DefaultMetricsPort}
}

// NewMetricsSettings serves metrics at path on port.
func NewMetricsSettings(path string, port int) *MetricsSettings {
	return &MetricsSettings{ApiEndpoint: path, Port: port}
}

// Validate checks the path, the port (0 lets the system choose) and that
// the host carries no port of its own.
func (m *MetricsSettings) Validate() error {
	if m == nil {
		return errors.New("settings: MetricsSettings must not be nil")
	}
	if !strings.HasPrefix(m.ApiEndpoint, "/") {
		return fmt.Errorf("settings: ApiEndpoint must start with /, got %q", m.ApiEndpoint)
	}
	if m.Port < 0 || m.Port > 65535 {
		return fmt.Errorf("settings: Port must be between 0 and 65535, got %d", m.Port)
	}
	// A colon is only allowed inside an IPv6 address; "host:port" or
	// "[::1]" would otherwise fail later with a less helpful listen error.
	if strings.Contains(m.Host, ":") && net.ParseIP(m.Host) == nil {
		return fmt.Errorf("settings: Host must be a host name or IP address without a port, got %q", m.Host)
	}
	return nil
}

// FromEnv reads CONDUCTOR_SERVER_URL (default DefaultServerURL),
// CONDUCTOR_AUTH_KEY and CONDUCTOR_AUTH_SECRET. The returned authentication
// settings are empty (auth off) when neither key nor secret is set. Invalid
// values are returned as an error naming the variable.
func FromEnv() (*AuthenticationSettings, *HttpSettings, error) {
	return fromLookup(os.LookupEnv)
}

func fromLookup(lookup func(string) (string, bool)) (*AuthenticationSettings, *HttpSettings, error) {
	base := DefaultServerURL
	if v, ok := lookup(EnvServerURL); ok && strings.TrimSpace(v) != "" {
		base = strings.TrimSpace(v)
	}
	key, _ := lookup(EnvAuthKey)
	secret, _ := lookup(EnvAuthSecret)
	auth := NewAuthenticationSettings(strings.TrimSpace(key), strings.TrimSpace(secret))
	httpSettings := NewHttpSettings(base)
	if err := httpSettings.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", EnvServerURL, err)
	}
	switch {
	case auth.keyId != "" && auth.keySecret == "":
		return nil, nil, fmt.Errorf("settings: %s must be set when %s is set (%s=%q)", EnvAuthSecret, EnvAuthKey, EnvAuthKey, auth.keyId)
	case auth.keyId == "" && auth.keySecret != "":
		return nil, nil, fmt.Errorf("settings: %s must be set when %s is set", EnvAuthKey, EnvAuthSecret)
	}
	return auth, httpSettings, nil
}
