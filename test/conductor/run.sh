#!/usr/bin/env bash
# Runs a command against a real Conductor OSS server. The default, test/conductor/suite.sh, runs
# the integration suite and then the dev server's black-box tests in remote mode (what
# `make test-conductor` does).
#
#   test/conductor/run.sh [command args...]
#
# It fetches the server's Spring Boot jar from Maven Central into test/conductor/.cache (once),
# starts a throw-away Redis for the task queues and the server, both on free loopback ports,
# exports CONDUCTOR_SERVER_URL=http://127.0.0.1:PORT/api, runs the command from the repository
# root, and stops both processes by PID on every way out.
#
# Environment knobs:
#   CONDUCTOR_VERSIONS      versions to try, first found wins
#                           (default "3.21.22 3.21.21 3.21.20 3.21.14"; see VERSIONS below)
#   CONDUCTOR_BOOT_TIMEOUT  seconds to wait for /health (default 180)
#   CONDUCTOR_JAVA_OPTS     JVM options (default "-Xms256m -Xmx1g")
# Each run writes server.log and redis.log to test/conductor/.cache/run.XXXXXX/, removed when the
# command succeeds and kept (path printed) when anything fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$here/.cache"

# 3.21.22 is the last 3.21 release built for Java 17. Maven Central as seen from our CI machine
# lists only 3.21.14 of the 3.21 line (plus 3.32.x, which needs Java 21), so 3.21.14 is the
# last resort; CI prints the version it used.
VERSIONS="${CONDUCTOR_VERSIONS:-3.21.22 3.21.21 3.21.20 3.21.14}"
BOOT_TIMEOUT="${CONDUCTOR_BOOT_TIMEOUT:-180}"
JAVA_OPTS="${CONDUCTOR_JAVA_OPTS:--Xms256m -Xmx1g}"

if [ "$#" -eq 0 ]; then
	set -- "$here/suite.sh"
fi

say() { printf 'conductor: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

# ---- prerequisites -------------------------------------------------------------------------
missing=()
command -v java >/dev/null 2>&1 || missing+=("java (a Java 17+ runtime; Debian: apt-get install openjdk-17-jre-headless)")
command -v mvn >/dev/null 2>&1 || missing+=("mvn (Apache Maven 3; Debian: apt-get install maven)")
command -v curl >/dev/null 2>&1 || missing+=("curl (Debian: apt-get install curl)")
if [ "${#missing[@]}" -gt 0 ]; then
	say "missing tools; install them and run again:"
	for m in "${missing[@]}"; do say "  - $m"; done
	exit 1
fi

if ! command -v redis-server >/dev/null 2>&1; then
	# The server's bundled "memory" store still sends task queues to a real Redis.
	if [ "$(id -u)" -ne 0 ]; then
		die "redis-server is missing and we are not root; install it (Debian: sudo apt-get install redis-server) and run again"
	fi
	say "installing redis-server with apt-get"
	apt-get update -qq >&2 || die "apt-get update failed; install redis-server by hand (apt-get install redis-server)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2 ||
		die "apt-get install redis-server failed; install it by hand and run again"
	command -v redis-server >/dev/null 2>&1 || die "redis-server still not on PATH after installing it"
fi

mkdir -p "$cache"

# ---- the server jar ------------------------------------------------------------------------
cached_jar() {
	local v
	for v in $VERSIONS; do
		if [ -s "$cache/conductor-server-$v-boot.jar" ]; then
			echo "$cache/conductor-server-$v-boot.jar"
			return
		fi
	done
}
jar="$(cached_jar)"
if [ -z "$jar" ]; then
	# Runs starting together must not download at the same time; the second one finds the jar
	# once it gets the lock. mvn writes into a scratch folder and the jar is renamed into place,
	# so a half-written jar is never taken for a cached one.
	exec 9>"$cache/.download.lock"
	flock 9
	jar="$(cached_jar)"
	t0=$SECONDS
	for v in $VERSIONS; do
		[ -z "$jar" ] || break
		say "fetching org.conductoross:conductor-server:$v:jar:boot from Maven Central"
		dl="$(mktemp -d "$cache/download.XXXXXX")"
		if mvn -q -B dependency:copy -Dartifact="org.conductoross:conductor-server:$v:jar:boot" \
			-DoutputDirectory="$dl" >"$cache/mvn-$v.log" 2>&1 &&
			[ -s "$dl/conductor-server-$v-boot.jar" ]; then
			mv "$dl/conductor-server-$v-boot.jar" "$cache/conductor-server-$v-boot.jar"
			jar="$cache/conductor-server-$v-boot.jar"
			say "fetched $v in $((SECONDS - t0)) s"
		else
			say "  $v not available (mvn output in $cache/mvn-$v.log)"
		fi
		rm -rf "$dl"
	done
	flock -u 9
	exec 9>&-
	[ -n "$jar" ] || die "none of the versions [$VERSIONS] could be fetched from Maven Central; see $cache/mvn-*.log"
fi
[ -s "$jar" ] || die "jar $jar is missing or empty"
version="$(basename "$jar" | sed -e 's/^conductor-server-//' -e 's/-boot\.jar$//')"

# ---- process bookkeeping -------------------------------------------------------------------
pids=()
cmd_pid=""
stop_all() {
	local pid i n
	# The command runs in its own process group (go test starts a test binary below it).
	if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
		kill -TERM -- "-$cmd_pid" 2>/dev/null || true
		wait "$cmd_pid" 2>/dev/null || true
	fi
	# Newest first: the server before the Redis it uses.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid="${pids[$i]}"
		kill -0 "$pid" 2>/dev/null || continue
		kill -TERM "$pid" 2>/dev/null || true
		for ((n = 0; n < 300; n++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "process $pid ignored SIGTERM for 30 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}
keep_logs=1
on_exit() {
	stop_all
	if [ "$keep_logs" -eq 0 ] && [ -n "${run_dir:-}" ]; then
		rm -rf "$run_dir"
	elif [ -n "${run_dir:-}" ]; then
		say "logs kept in $run_dir"
	fi
}
trap 'on_exit' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	# Ask the kernel for an unused port. A tiny race with other programs remains; both servers
	# fail loudly if their port is taken and the log tail shows it.
	if command -v python3 >/dev/null 2>&1 &&
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null; then
		return
	fi
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "found no free loopback port"
}

tail_log() {
	say "last lines of $1:"
	tail -n "${2:-60}" "$1" >&2 || true
}

# One folder per run, so that concurrent runs (several checkouts' tools sharing the cache) do not
# clobber each other's logs. Kept when the run fails; folders older than a day are pruned.
find "$cache" -maxdepth 1 -type d -name 'run.*' -mtime +0 -exec rm -rf {} + 2>/dev/null || true
run_dir="$(mktemp -d "$cache/run.XXXXXX")"
mkdir -p "$run_dir/redis"

# ---- Redis (task queues) -------------------------------------------------------------------
redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
	--dir "$run_dir/redis" --daemonize no --logfile "$run_dir/redis.log" &
pids+=("$!")
for ((n = 0; ; n++)); do
	if redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG; then
		break
	fi
	kill -0 "${pids[0]}" 2>/dev/null || {
		tail_log "$run_dir/redis.log"
		die "redis-server exited at start"
	}
	[ "$n" -lt 100 ] || {
		tail_log "$run_dir/redis.log"
		die "redis-server did not answer PING within 10 s"
	}
	sleep 0.1
done

# ---- Conductor server ----------------------------------------------------------------------
port="$(free_port)"
log="$run_dir/server.log"
t0=$SECONDS
# taskExecutionPostponeDuration: a task held back by its concurrency or rate limit becomes
# pollable again after 1 s instead of 60 s, so that sdk/conductortest's limit tests (which give
# the dev server WithPostponeDuration) need not wait a minute; no other test sets such limits.
# shellcheck disable=SC2086 # JAVA_OPTS is a list of options
java $JAVA_OPTS -jar "$jar" \
	--server.port="$port" \
	--server.address=127.0.0.1 \
	--loadSample=false \
	--conductor.app.taskExecutionPostponeDuration=1s \
	--conductor.redis.hosts="127.0.0.1:$redis_port:us-east-1c" \
	>"$log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
say "started conductor-server $version (pid $server_pid) on 127.0.0.1:$port, Redis on $redis_port; log: $log"

while :; do
	if curl -fsS -m 2 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"healthy":true'; then
		break
	fi
	if ! kill -0 "$server_pid" 2>/dev/null; then
		tail_log "$log"
		die "conductor-server exited during start"
	fi
	if [ $((SECONDS - t0)) -ge "$BOOT_TIMEOUT" ]; then
		tail_log "$log"
		die "conductor-server did not report healthy on http://127.0.0.1:$port/health within $BOOT_TIMEOUT s (raise CONDUCTOR_BOOT_TIMEOUT on slow machines)"
	fi
	sleep 1
done
say "server healthy after $((SECONDS - t0)) s"

export CONDUCTOR_SERVER_URL="http://127.0.0.1:$port/api"
export CONDUCTOR_SERVER_VERSION="$version"
say "running: $* (CONDUCTOR_SERVER_URL=$CONDUCTOR_SERVER_URL)"
cd "$root"
rc=0
# In the background, in its own process group, so that a TERM sent to this script is handled at
# once (bash runs traps only between foreground commands) and reaches the whole command tree.
set -m
"$@" &
cmd_pid=$!
set +m
wait "$cmd_pid" || rc=$?
cmd_pid=""
if [ "$rc" -ne 0 ]; then
	say "command failed with exit status $rc; server log: $log"
	exit "$rc"
fi
keep_logs=0
exit 0
