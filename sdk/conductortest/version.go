package conductortest

import (
	"fmt"
	"strings"
)

// Version is the Conductor OSS release line whose answers the server
// gives where the lines differ (see docs/compatibility.md in the Baton
// repository for the list). Pick one with WithVersion; cmd/conductor-dev
// takes -conductor-version.
type Version string

const (
	// Version321 answers as Conductor OSS 3.21 (checked against 3.21.14
	// with its Redis queues): ownerEmail is required, a poll holds (the
	// "hold" long-poll mode), an unknown task is a 204, an unsupported
	// method a 500.
	Version321 Version = "3.21"
	// Version332 answers as Conductor OSS 3.32 (checked against 3.32.3 with
	// its default SQLite store): ownerEmail is optional, a poll waits for
	// the full batch (the "full-batch" long-poll mode), an unknown task is
	// a 404, an unsupported method a 405.
	Version332 Version = "3.32"
)

// defaultVersion is the profile without WithVersion: the newest release,
// which a new user starts on.
const defaultVersion = Version332

// parseVersion accepts a release line ("3.21", "3.32") or a release of it
// ("3.21.14", "3.32.3"), as WithVersion does.
func parseVersion(s string) (Version, error) {
	for _, v := range []Version{Version321, Version332} {
		if s == string(v) || strings.HasPrefix(s, string(v)+".") {
			return v, nil
		}
	}
	return "", fmt.Errorf("conductor version %q: want 3.21 or 3.32 (or a release of them, such as 3.21.14)", s)
}

// WithVersion makes the server answer as that release line does where the
// lines differ (a release such as "3.21.14" names its line). Without it the
// server answers as Version332, the newest line.
func WithVersion(v Version) Option { return func(o *options) { o.version = v } }

// Version returns the release line the server imitates.
func (s *Server) Version() Version { return s.opts.version }

func (s *Server) is321() bool { return s.opts.version == Version321 }

// ownerEmailRequired: 3.21 requires ownerEmail on definitions unless the
// server was told otherwise (conductor.app.ownerEmailMandatory=false, here
// WithOwnerEmailOptional); 3.32 ships with it off.
func (s *Server) ownerEmailRequired() bool {
	return s.is321() && !s.opts.ownerEmailOptional
}
