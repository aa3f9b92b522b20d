package settings_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/baton-go/baton/sdk/settings"
)

// FromEnv reads the three variables a deployment sets. Without
// CONDUCTOR_SERVER_URL it points at a local Conductor
// (http://localhost:8080/api); without a key, authentication is off.
func ExampleFromEnv() {
	// In a deployment these come from the environment of the process.
	os.Setenv(settings.EnvServerURL, "https://conductor.example.com/api")
	os.Setenv(settings.EnvAuthKey, "my-key-id")
	os.Setenv(settings.EnvAuthSecret, "my-key-secret")
	defer func() {
		for _, v := range []string{settings.EnvServerURL, settings.EnvAuthKey, settings.EnvAuthSecret} {
			os.Unsetenv(v)
		}
	}()

	auth, httpSettings, err := settings.FromEnv()
	if err != nil {
		log.Fatal(err) // names the variable and its value
	}
	fmt.Println(httpSettings.BaseUrl)
	fmt.Println(auth.Enabled(), auth.KeyId())
	// Output:
	// https://conductor.example.com/api
	// true my-key-id
}

// A bad value is reported with the field and the value, by Validate and by
// the client, which calls it before the first request.
func ExampleHttpSettings_Validate() {
	httpSettings := settings.NewHttpSettings("localhost:8080")
	fmt.Println(httpSettings.Validate())
	// Output: settings: BaseUrl must be an absolute http(s) URL, got "localhost:8080" (e.g. http://localhost:8080/api)
}

// NewHttpSettings fills in the defaults; set fields to change them.
func ExampleNewHttpSettings() {
	httpSettings := settings.NewHttpSettings("http://localhost:8080/api")
	fmt.Println(httpSettings.Timeout)
	httpSettings.Timeout = 10 * time.Second // each request but long polls, which get their poll timeout on top
	httpSettings.Headers = map[string]string{"X-Team": "payments"}
	fmt.Println(httpSettings.Validate())
	// Output:
	// 30s
	// <nil>
}

// The key secret never appears when the settings are printed, with any verb.
func ExampleAuthenticationSettings_String() {
	auth := settings.NewAuthenticationSettings("my-key-id", "my-key-secret")
	fmt.Println(auth)
	fmt.Printf("%+v\n", *auth)
	// Output:
	// AuthenticationSettings{KeyId: "my-key-id", KeySecret: [redacted]}
	// AuthenticationSettings{KeyId: "my-key-id", KeySecret: [redacted]}
}

// The metrics endpoint the official SDK documents: /metrics on port 2112, on
// every interface. Host keeps it on one.
func ExampleNewDefaultMetricsSettings() {
	m := settings.NewDefaultMetricsSettings()
	fmt.Println(m.ApiEndpoint, m.Port)
	m.Host = "127.0.0.1"
	fmt.Println(m.Validate())
	// Output:
	// /metrics 2112
	// <nil>
}
