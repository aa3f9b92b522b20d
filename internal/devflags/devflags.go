// Package devflags reads the dev server's settings from their text forms
// (command-line flags of cmd/conductor-dev, environment variables of the
// test suites). They are not part of sdk/conductortest's API: a user picks
// the typed constants.
package devflags

import (
	"fmt"
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

var longPollModes = []conductortest.LongPollMode{
	conductortest.LongPollDefault, conductortest.LongPollEarly, conductortest.LongPollFullBatch, conductortest.LongPollHold,
}

// ParseLongPollMode reads a mode by its name (LongPollMode.String):
// "default", "early", "full-batch" or "hold".
func ParseLongPollMode(s string) (conductortest.LongPollMode, error) {
	names := make([]string, len(longPollModes))
	for i, m := range longPollModes {
		if s == m.String() {
			return m, nil
		}
		names[i] = m.String()
	}
	return 0, fmt.Errorf("long-poll mode %q: want one of %s", s, strings.Join(names, ", "))
}

// ParsePayloadStore reads "none", "presigned" (or "s3") and "postgres".
func ParsePayloadStore(s string) (conductortest.PayloadStore, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return conductortest.PayloadStoreNone, nil
	case "presigned", "s3":
		return conductortest.PayloadStorePresigned, nil
	case "postgres":
		return conductortest.PayloadStorePostgres, nil
	}
	return conductortest.PayloadStoreNone, fmt.Errorf("payload store %q: want none, presigned or postgres", s)
}
