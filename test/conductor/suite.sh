#!/usr/bin/env bash
# The real-server tier, run by run.sh (its default command) with CONDUCTOR_SERVER_URL naming the
# server it started and CONDUCTOR_SERVER_VERSION / CONDUCTOR_SERVER_STORE saying which release and
# store answer (the tests assert each version's answers where versions differ):
#   1. the integration suite (test/integration), the SDK against the server;
#   2. the black-box tests of the dev server (sdk/conductortest) in remote mode
#      (CONDUCTORTEST_TARGET=remote), which check that the real server answers as the dev server's
#      profile for that version does; tests that need the dev server's fake clock, fault injection
#      or introspection skip, and so do the checks of known server bugs (docs/compatibility.md).
# Both run even when the first fails; the exit status is non-zero when either failed.
set -uo pipefail

: "${CONDUCTOR_SERVER_URL:?run this through test/conductor/run.sh, or set CONDUCTOR_SERVER_URL}"

rc=0
go test -race -count=1 -timeout 15m ./test/integration/... || rc=1
# -parallel: the timeout tests mostly wait for the server's sweeper (up to 30 s each), so they all
# wait together rather than GOMAXPROCS at a time.
CONDUCTORTEST_TARGET=remote go test -race -count=1 -timeout 10m -parallel 16 ./sdk/conductortest/ || rc=1
exit "$rc"
