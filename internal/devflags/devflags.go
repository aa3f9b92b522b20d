// Package devflags reads the dev server's settings from their text forms
// (command-line flags of cmd/conductor-dev, environment variables of the
// test suites). They are not part of sdk/conductortest's API: a program
// passes the values to its options (WithVersion, WithLongPoll,
// WithExternalPayloadStorage) directly.
package devflags

import (
	"fmt"
	"slices"
	"strings"

	"github.com/baton-go/baton/sdk/conductortest"
)

// ParseVersion accepts a release line ("3.21", "3.32") or a release of it
// ("3.21.14", "3.32.3").
func ParseVersion(s string) (conductortest.Version, error) {
	for _, v := range []conductortest.Version{conductortest.Version321, conductortest.Version332} {
		if s == string(v) || strings.HasPrefix(s, string(v)+".") {
			return v, nil
		}
	}
	return "", fmt.Errorf("conductor version %q: want 3.21 or 3.32 (or a release of them, such as 3.21.14)", s)
}

// longPollModes are the names conductortest.WithLongPoll takes (its
// TestLongPollModeNames checks that the two agree).
var longPollModes = []string{"default", "early", "full-batch", "hold"}

// ParseLongPollMode checks a -long-poll value: "default", "early",
// "full-batch" or "hold", as conductortest.WithLongPoll takes them.
func ParseLongPollMode(s string) (string, error) {
	if slices.Contains(longPollModes, s) {
		return s, nil
	}
	return "", fmt.Errorf("long-poll mode %q: want one of %s", s, strings.Join(longPollModes, ", "))
}

// ParsePayloadStore reads "none" (or ""), "presigned" (or "s3") and
// "postgres", in any case, and returns the name
// conductortest.WithExternalPayloadStorage takes.
func ParsePayloadStore(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return "none", nil
	case "presigned", "s3":
		return "presigned", nil
	case "postgres":
		return "postgres", nil
	}
	return "none", fmt.Errorf("payload store %q: want none, presigned or postgres", s)
}
