#!/usr/bin/env bash
# The large-payload tests alone (issue 25), run by run.sh against a server it gave a PostgreSQL
# external payload storage (CONDUCTOR_PAYLOAD_STORE=postgres): the integration suite's TestPayload*
# and the dev server's black-box TestPayload* in remote mode. make test-conductor runs this on the
# servers whose usual run cannot have the store (PAYLOAD_SERVERS: 3.32.3 with Redis).
set -uo pipefail

: "${CONDUCTOR_SERVER_URL:?run this through test/conductor/run.sh, or set CONDUCTOR_SERVER_URL}"
[ "${CONDUCTOR_SERVER_PAYLOAD_STORE:-none}" = postgres ] ||
	echo "payload.sh: the server has no PostgreSQL payload store; the tests that need one will skip" >&2

rc=0
go test -race -count=1 -timeout 10m -run '^TestPayload' ./test/integration/ || rc=1
CONDUCTORTEST_TARGET=remote go test -race -count=1 -timeout 10m -run '^TestPayload' ./sdk/conductortest/ || rc=1
exit "$rc"
