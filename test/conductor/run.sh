#!/usr/bin/env bash
# Runs a command against one real Conductor OSS server. The default command,
# test/conductor/suite.sh, runs the integration suite and then the dev server's black-box tests in
# remote mode (what `make test-conductor` does for each version).
#
#   CONDUCTOR_VERSION=3.21.14|3.32.3 CONDUCTOR_STORE=redis|sqlite test/conductor/run.sh [command args...]
#
# It starts that server on a free loopback port, exports
#   CONDUCTOR_SERVER_URL      http://127.0.0.1:PORT/api
#   CONDUCTOR_SERVER_VERSION  the version it runs, e.g. 3.32.3
#   CONDUCTOR_SERVER_STORE    redis or sqlite
#   CONDUCTOR_SERVER_PID      the server's process id (as started; a restart writes the new one to
#                             $CONDUCTOR_RUN_DIR/server.pid)
#   CONDUCTOR_SERVER_DATA     where workflows and tasks are kept: memory, redis or sqlite
#   CONDUCTOR_RUN_DIR         the run's temporary folder (server log, SQLite database, pid files)
#   CONDUCTOR_SERVER_RESTART  a script that kills the server with SIGKILL and starts it again on the
#                             same port with the same arguments and folder, then waits for /health
#                             (argument kill or start does one half; see restart.sh)
#   CONDUCTOR_REDIS_RESTART   the same for the Redis (only when a Redis runs); it comes back empty
#   CONDUCTOR_STORE_PIDS      the process ids of its stores, space-separated (Redis, PostgreSQL's
#                             postmaster; empty for SQLite, which lives in the JVM)
#   CONDUCTOR_SERVER_PAYLOAD_STORE  postgres when the server keeps large payloads in a PostgreSQL
#                             (CONDUCTOR_PAYLOAD_STORE below), else none
# runs the command from the repository root, and stops everything it started on every way out,
# restarted processes included.
#
# Stores: 3.21.x keeps its task queues in Redis (a throw-away redis-server is started; the rest of
# its state is in memory). 3.32.x defaults to SQLite for everything (the database file goes to the
# run's temporary folder); with CONDUCTOR_STORE=redis it keeps data and queues in a throw-away
# Redis and runs without indexing, as a production Redis set-up would. CONDUCTOR_DATA=redis (3.21.x
# only) keeps 3.21's workflows and tasks in that Redis as well (conductor.db.type=redis_standalone)
# instead of in the server's memory, so that the server can be killed and restarted without losing
# them (make test-conductor-faults); the default, memory, is how the jar ships.
#
# Nothing is written into the checkout:
#   - the server jar is cached in ${XDG_CACHE_HOME:-$HOME/.cache}/baton/conductor (fetched once
#     with mvn from Maven Central when missing);
#   - the server runs in a fresh folder from mktemp -d (its SQLite database and logs live there),
#     removed when the command succeeds; on failure the logs are kept and their path printed.
#
# Java: 3.21 runs on Java 17 or newer, 3.32 needs 21 or newer. The first suitable one of
# $JAVA_HOME/bin/java, java on PATH and /usr/lib/jvm/temurin-25-jdk-amd64/bin/java is used.
#
# External payload storage: CONDUCTOR_PAYLOAD_STORE=postgres starts a throw-away PostgreSQL (the
# system's package, /usr/lib/postgresql/N; installed with apt-get when missing and we are root),
# in its own temporary folder on a free port, as the postgres user when we are root (PostgreSQL
# refuses to run as root), and gives it to the server as conductor.external-payload-storage
# (type postgres, through spring.datasource, which that store uses). 3.32.x with SQLite cannot
# have it: its SQLite persistence uses the same spring.datasource (use CONDUCTOR_STORE=redis).
# The default, none, leaves the server's own default (a "dummy" store on its local disk that no
# client can read); auto is postgres where the server can have it and none elsewhere (what make
# test-conductor uses).
#
# Cluster mode: CONDUCTOR_NODES=2 starts two nodes of the same version on the one Redis (3.32.x
# needs CONDUCTOR_STORE=redis; 3.21.x needs CONDUCTOR_DATA=redis, or the nodes would not share
# workflows), each on its own free port, behind test/conductor/lbproxy, a round-robin reverse
# proxy built with go into the run folder. Then CONDUCTOR_SERVER_URL is the proxy's URL, and
#   CONDUCTOR_NODES           the number of nodes (2)
#   CONDUCTOR_NODE_URLS       the nodes' own URLs, space-separated, node 1 first
#   CONDUCTOR_NODE_PIDS       their process ids, in the same order
# CONDUCTOR_SERVER_PID, CONDUCTOR_SERVER_RESTART and the server.pid/server.log files are node 1's;
# node 2 logs to server2.log and cannot be restarted. The proxy logs to lbproxy.log. The default,
# CONDUCTOR_NODES=1, runs one server as described above and exports none of these three.
#
# Other knobs:
#   CONDUCTOR_BOOT_TIMEOUT  seconds to wait for /health (default 420: a loaded 2-core machine has taken 4 minutes)
#   CONDUCTOR_JAVA_OPTS     JVM options (default "-Xms256m -Xmx1g")
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/baton/conductor"

VERSION="${CONDUCTOR_VERSION:-3.21.14}"
BOOT_TIMEOUT="${CONDUCTOR_BOOT_TIMEOUT:-420}"
JAVA_OPTS="${CONDUCTOR_JAVA_OPTS:--Xms256m -Xmx1g}"
TEMURIN="/usr/lib/jvm/temurin-25-jdk-amd64"

if [ "$#" -eq 0 ]; then
	set -- "$here/suite.sh"
fi

say() { printf 'conductor %s: %s\n' "$VERSION" "$*" >&2; }
die() {
	say "$*"
	exit 1
}

case "$VERSION" in
3.21.*)
	min_java=17
	STORE="${CONDUCTOR_STORE:-redis}"
	[ "$STORE" = redis ] || die "CONDUCTOR_STORE=$STORE: Conductor $VERSION keeps its queues in Redis; use CONDUCTOR_STORE=redis (or leave it unset)"
	DATA="${CONDUCTOR_DATA:-memory}"
	case "$DATA" in
	memory | redis) ;;
	*) die "CONDUCTOR_DATA=$DATA: Conductor $VERSION keeps its workflows in memory (the default) or, with CONDUCTOR_DATA=redis, in the Redis" ;;
	esac
	;;
3.32.*)
	min_java=21
	STORE="${CONDUCTOR_STORE:-sqlite}"
	case "$STORE" in
	sqlite | redis) ;;
	*) die "CONDUCTOR_STORE=$STORE: want sqlite (the default for $VERSION) or redis" ;;
	esac
	DATA="$STORE"
	[ -z "${CONDUCTOR_DATA:-}" ] || [ "$CONDUCTOR_DATA" = "$STORE" ] ||
		die "CONDUCTOR_DATA=$CONDUCTOR_DATA: Conductor $VERSION keeps its workflows where its queues are (CONDUCTOR_STORE=$STORE)"
	;;
*)
	die "CONDUCTOR_VERSION=$VERSION: this script knows how to run 3.21.x (tested: 3.21.14) and 3.32.x (tested: 3.32.3)"
	;;
esac

NODES="${CONDUCTOR_NODES:-1}"
case "$NODES" in
1) ;;
2)
	[ "$DATA" = redis ] || die "CONDUCTOR_NODES=2: the nodes must share their workflows in one Redis; use CONDUCTOR_STORE=redis (3.32.x) or CONDUCTOR_DATA=redis (3.21.x)"
	command -v go >/dev/null 2>&1 || die "CONDUCTOR_NODES=2 builds test/conductor/lbproxy and needs go on PATH"
	;;
*) die "CONDUCTOR_NODES=$NODES: want 1 (the default) or 2" ;;
esac

PAYLOAD_STORE="${CONDUCTOR_PAYLOAD_STORE:-none}"
if [ "$PAYLOAD_STORE" = auto ]; then
	PAYLOAD_STORE=postgres
	if [ "${VERSION#3.32.}" != "$VERSION" ] && [ "$STORE" = sqlite ]; then
		PAYLOAD_STORE=none
	fi
fi
case "$PAYLOAD_STORE" in
none) ;;
postgres)
	if [ "${VERSION#3.32.}" != "$VERSION" ] && [ "$STORE" = sqlite ]; then
		die "CONDUCTOR_PAYLOAD_STORE=postgres: Conductor $VERSION with SQLite uses spring.datasource for SQLite, which the PostgreSQL payload store needs too; use CONDUCTOR_STORE=redis"
	fi
	;;
*) die "CONDUCTOR_PAYLOAD_STORE=$PAYLOAD_STORE: want none, postgres or auto" ;;
esac

# ---- prerequisites -------------------------------------------------------------------------
java_major() {
	# Prints the major version of the java binary $1 (8 for 1.8), or nothing.
	"$1" -version 2>&1 | sed -nE '1s/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/p' |
		awk '{ if ($1 == 1) print $2; else print $1 }'
}
java_bin=""
for cand in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java 2>/dev/null || true)" "$TEMURIN/bin/java"; do
	[ -n "$cand" ] && [ -x "$cand" ] || continue
	major="$(java_major "$cand")"
	if [ -n "$major" ] && [ "$major" -ge "$min_java" ]; then
		java_bin="$cand"
		break
	fi
done
[ -n "$java_bin" ] || die "Conductor $VERSION needs Java $min_java or newer, and none was found (looked at \$JAVA_HOME, java on PATH and $TEMURIN). Install one (Debian: apt-get install openjdk-$min_java-jre-headless, or Temurin 21/25 from adoptium.net) or point JAVA_HOME at it"

missing=()
command -v curl >/dev/null 2>&1 || missing+=("curl (Debian: apt-get install curl)")
command -v flock >/dev/null 2>&1 || missing+=("flock (Debian: apt-get install util-linux)")
if [ "${#missing[@]}" -gt 0 ]; then
	say "missing tools; install them and run again:"
	for m in "${missing[@]}"; do say "  - $m"; done
	exit 1
fi

if [ "$STORE" = redis ] && ! command -v redis-server >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		die "redis-server is missing and we are not root; install it (Debian: sudo apt-get install redis-server) and run again"
	fi
	say "installing redis-server with apt-get"
	apt-get update -qq >&2 || die "apt-get update failed; install redis-server by hand (apt-get install redis-server)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2 ||
		die "apt-get install redis-server failed; install it by hand and run again"
	command -v redis-server >/dev/null 2>&1 || die "redis-server still not on PATH after installing it"
fi

pg_bin=""
find_pg() {
	local d
	pg_bin=""
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
		[ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && pg_bin="$d"
	done
}
if [ "$PAYLOAD_STORE" = postgres ]; then
	find_pg
	if [ -z "$pg_bin" ]; then
		if [ "$(id -u)" -ne 0 ]; then
			die "PostgreSQL is missing and we are not root; install it (Debian: sudo apt-get install postgresql-15, or postgresql) and run again"
		fi
		say "installing PostgreSQL with apt-get"
		apt-get update -qq >&2 || die "apt-get update failed; install PostgreSQL by hand (apt-get install postgresql-15)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >&2 ||
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2 ||
			die "apt-get install postgresql failed; install it by hand and run again"
		find_pg
		[ -n "$pg_bin" ] || die "no /usr/lib/postgresql/*/bin/pg_ctl after installing PostgreSQL"
	fi
fi

mkdir -p "$cache"

# ---- the server jar ------------------------------------------------------------------------
jar="$cache/conductor-server-$VERSION-boot.jar"
if [ ! -s "$jar" ]; then
	command -v mvn >/dev/null 2>&1 || die "the jar for $VERSION is not in $cache and mvn (Apache Maven 3; Debian: apt-get install maven) is missing to fetch it"
	# Runs starting together must not download at the same time; the second one finds the jar
	# once it gets the lock. mvn writes into a scratch folder and the jar is renamed into place,
	# so a half-written jar is never taken for a cached one.
	exec 9>"$cache/.download.lock"
	flock 9
	if [ ! -s "$jar" ]; then
		t0=$SECONDS
		say "fetching org.conductoross:conductor-server:$VERSION:jar:boot from Maven Central into $cache"
		dl="$(mktemp -d "$cache/download.XXXXXX")"
		if mvn -q -B dependency:copy -Dartifact="org.conductoross:conductor-server:$VERSION:jar:boot" \
			-DoutputDirectory="$dl" >"$cache/mvn-$VERSION.log" 2>&1 &&
			[ -s "$dl/conductor-server-$VERSION-boot.jar" ]; then
			mv "$dl/conductor-server-$VERSION-boot.jar" "$jar"
			say "fetched in $((SECONDS - t0)) s"
		else
			rm -rf "$dl"
			die "could not fetch $VERSION from Maven Central; see $cache/mvn-$VERSION.log"
		fi
		rm -rf "$dl"
	fi
	flock -u 9
	exec 9>&-
fi
[ -s "$jar" ] || die "jar $jar is missing or empty"

# ---- process bookkeeping -------------------------------------------------------------------
# The server and the Redis are started here and, when the command restarts them (restart.sh), by
# that script: the current process id of each is in $run_dir/server.pid and $run_dir/redis.pid.
cmd_pid=""
server_pid=""
server2_pid=""
proxy_pid=""
redis_pid=""
pg_dir=""
as_pg() {
	# PostgreSQL refuses to run as root: as root, run its tools as the postgres user, from a
	# folder that user can enter (the checkout may be closed to it).
	if [ "$(id -u)" -eq 0 ]; then
		(cd "${pg_dir:-/}" && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}
stop_pg() {
	[ -n "$pg_dir" ] && [ -d "$pg_dir/data" ] || return 0
	as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}
alive() {
	# True while process $1 exists and is not a zombie.
	local st
	st="$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ')"
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}
stop_pid() {
	# Stops process $1 if it still runs the program named $2 (a restart may have replaced it, and
	# its number may since belong to another program).
	local pid="$1" what="$2" n
	[ -n "$pid" ] && alive "$pid" || return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$what" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((n = 0; n < 300; n++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		say "process $pid ignored SIGTERM for 30 s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
stop_all() {
	# The command runs in its own process group (go test starts a test binary below it).
	if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
		kill -TERM -- "-$cmd_pid" 2>/dev/null || true
		wait "$cmd_pid" 2>/dev/null || true
	fi
	# Cluster mode: the proxy before the nodes behind it.
	if [ -n "$proxy_pid" ]; then
		stop_pid "$proxy_pid" "$run_dir/lbproxy"
	fi
	# The server before the Redis it uses: the processes started here and those a restart started.
	if [ -n "${run_dir:-}" ]; then
		stop_pid "$(cat "$run_dir/server.pid" 2>/dev/null)" "$jar"
	fi
	stop_pid "$server_pid" "$jar"
	stop_pid "$server2_pid" "$jar"
	if [ -n "${run_dir:-}" ]; then
		stop_pid "$(cat "$run_dir/redis.pid" 2>/dev/null)" redis-server
	fi
	stop_pid "$redis_pid" redis-server
	stop_pg
	server_pid="" server2_pid="" proxy_pid="" redis_pid=""
}
keep_logs=1
on_exit() {
	stop_all
	if [ -n "${run_dir:-}" ]; then
		if [ "$keep_logs" -eq 0 ]; then
			rm -rf "$run_dir"
		else
			# The logs are what a failure needs; the database can be hundreds of MB.
			rm -rf "$run_dir/redis" "$run_dir"/work/*.db* 2>/dev/null || true
			say "logs kept in $run_dir"
		fi
	fi
	if [ -n "$pg_dir" ]; then
		if [ "$keep_logs" -ne 0 ] && [ -n "${run_dir:-}" ] && [ -d "$run_dir" ]; then
			cp "$pg_dir/postgres.log" "$run_dir/" 2>/dev/null || true
		fi
		rm -rf "$pg_dir"
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

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/baton-conductor-$VERSION-$STORE.XXXXXX")"
mkdir -p "$run_dir/work"
if [ "$NODES" -gt 1 ]; then
	# Built first: a build failure should not cost a JVM boot.
	(cd "$root" && go build -o "$run_dir/lbproxy" ./test/conductor/lbproxy) ||
		die "could not build test/conductor/lbproxy"
fi

# ---- Redis ---------------------------------------------------------------------------------
# The launch commands are saved in $run_dir/launch.env for restart.sh, which starts them again
# the same way.
server_args=()
redis_cmd=()
redis_port=""
if [ "$STORE" = redis ]; then
	mkdir -p "$run_dir/redis"
	redis_port="$(free_port)"
	redis_cmd=(redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
		--dir "$run_dir/redis" --daemonize no --logfile "$run_dir/redis.log")
	"${redis_cmd[@]}" </dev/null &
	redis_pid=$!
	disown "$redis_pid" # restart.sh may kill it: no job notice for that; stopped by pid on exit
	echo "$redis_pid" >"$run_dir/redis.pid"
	for ((n = 0; ; n++)); do
		if redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG; then
			break
		fi
		alive "$redis_pid" || {
			tail_log "$run_dir/redis.log"
			die "redis-server exited at start"
		}
		[ "$n" -lt 100 ] || {
			tail_log "$run_dir/redis.log"
			die "redis-server did not answer PING within 10 s"
		}
		sleep 0.1
	done
	server_args+=("--conductor.redis.hosts=127.0.0.1:$redis_port:us-east-1c")
	case "$VERSION" in
	3.21.*)
		if [ "$DATA" = redis ]; then
			server_args+=(--conductor.db.type=redis_standalone)
		fi
		;;
	3.32.*)
		server_args+=(--conductor.db.type=redis_standalone --conductor.queue.type=redis_standalone
			--conductor.indexing.enabled=false)
		;;
	esac
fi

# ---- PostgreSQL (external payload storage) ----------------------------------------------
port="$(free_port)"
if [ "$PAYLOAD_STORE" = postgres ]; then
	# Its own folder, not $run_dir: the postgres user must own it.
	pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/baton-postgres.XXXXXX")"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "there is no postgres user to run PostgreSQL as (the postgresql package creates it)"
		chown postgres: "$pg_dir"
	fi
	as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1 || {
		tail_log "$pg_dir/initdb.log"
		die "initdb failed"
	}
	pg_port="$(free_port)"
	# Throw-away data: no fsync; the socket in the folder, TCP on loopback only.
	as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 \
		-o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null 2>&1 || {
		tail_log "$pg_dir/postgres.log"
		die "PostgreSQL did not start"
	}
	as_pg "$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE conductor" >/dev/null ||
		die "could not create the conductor database in PostgreSQL"
	jdbc="jdbc:postgresql://127.0.0.1:$pg_port/conductor"
	# The store takes its connection from spring.datasource; its own url/username/password
	# properties exist but are not read (3.21.14, 3.32.x). Both are set.
	server_args+=(--conductor.external-payload-storage.type=postgres
		"--spring.datasource.url=$jdbc" --spring.datasource.username=postgres --spring.datasource.password=unused
		"--conductor.external-payload-storage.postgres.url=$jdbc"
		--conductor.external-payload-storage.postgres.username=postgres
		--conductor.external-payload-storage.postgres.password=unused
		"--conductor.external-payload-storage.postgres.conductor-url=http://127.0.0.1:$port")
	say "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') for external payloads on 127.0.0.1:$pg_port (folder $pg_dir)"
fi

# ---- Conductor server ----------------------------------------------------------------------
log="$run_dir/server.log"
t0=$SECONDS
# taskExecutionPostponeDuration: a task held back by its concurrency or rate limit becomes
# pollable again after 1 s instead of 60 s, so that sdk/conductortest's limit tests (which give
# the dev server WithPostponeDuration) need not wait a minute; no other test sets such limits.
# The server runs in the run folder: 3.32's SQLite database (c123.db) lands there.
# shellcheck disable=SC2086 # JAVA_OPTS is a list of options
server_cmd=("$java_bin" $JAVA_OPTS -jar "$jar"
	--server.port="$port"
	--server.address=127.0.0.1
	--loadSample=false
	--conductor.app.taskExecutionPostponeDuration=1s
	"${server_args[@]}")
(cd "$run_dir/work" && exec "${server_cmd[@]}" >"$log" 2>&1 </dev/null) &
server_pid=$!
disown "$server_pid" # restart.sh may kill it: no job notice for that; stopped by pid on exit
echo "$server_pid" >"$run_dir/server.pid"
{
	declare -p server_cmd redis_cmd
	printf 'version=%q\njar=%q\nport=%q\nredis_port=%q\nboot_timeout=%q\n' "$VERSION" "$jar" "$port" "$redis_port" "$BOOT_TIMEOUT"
} >"$run_dir/launch.env"
say "started with store $STORE, data in $DATA (pid $server_pid, $("$java_bin" -version 2>&1 | head -1)) on 127.0.0.1:$port; folder $run_dir"
port2=""
if [ "$NODES" -gt 1 ]; then
	# Node 2: the same command on another port, from a folder of its own.
	port2="$(free_port)"
	server2_cmd=()
	for a in "${server_cmd[@]}"; do
		if [ "$a" = "--server.port=$port" ]; then a="--server.port=$port2"; fi
		server2_cmd+=("$a")
	done
	mkdir -p "$run_dir/work2"
	(cd "$run_dir/work2" && exec "${server2_cmd[@]}" >"$run_dir/server2.log" 2>&1 </dev/null) &
	server2_pid=$!
	disown "$server2_pid"
	echo "$server2_pid" >"$run_dir/server2.pid"
	say "node 2 started (pid $server2_pid) on 127.0.0.1:$port2"
fi

while :; do
	if curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; then
		break
	fi
	if ! kill -0 "$server_pid" 2>/dev/null; then
		tail_log "$log"
		die "conductor-server exited during start"
	fi
	if [ $((SECONDS - t0)) -ge "$BOOT_TIMEOUT" ]; then
		tail_log "$log"
		die "conductor-server did not answer on http://127.0.0.1:$port/health within $BOOT_TIMEOUT s (raise CONDUCTOR_BOOT_TIMEOUT on slow machines)"
	fi
	sleep 1
done
say "server healthy after $((SECONDS - t0)) s"
if [ "$NODES" -gt 1 ]; then
	while ! curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port2/health" 2>/dev/null; do
		if ! kill -0 "$server2_pid" 2>/dev/null; then
			tail_log "$run_dir/server2.log"
			die "node 2 exited during start"
		fi
		if [ $((SECONDS - t0)) -ge "$BOOT_TIMEOUT" ]; then
			tail_log "$run_dir/server2.log"
			die "node 2 did not answer on http://127.0.0.1:$port2/health within $BOOT_TIMEOUT s (raise CONDUCTOR_BOOT_TIMEOUT on slow machines)"
		fi
		sleep 1
	done
	say "node 2 healthy after $((SECONDS - t0)) s"
	proxy_port="$(free_port)"
	"$run_dir/lbproxy" -listen "127.0.0.1:$proxy_port" -backend "http://127.0.0.1:$port" -backend "http://127.0.0.1:$port2" \
		>"$run_dir/lbproxy.log" 2>&1 </dev/null &
	proxy_pid=$!
	disown "$proxy_pid"
	for ((n = 0; ; n++)); do
		curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$proxy_port/health" 2>/dev/null && break
		alive "$proxy_pid" && [ "$n" -lt 100 ] || {
			tail_log "$run_dir/lbproxy.log"
			die "lbproxy did not answer on 127.0.0.1:$proxy_port within 10 s"
		}
		sleep 0.1
	done
	say "lbproxy (pid $proxy_pid) on 127.0.0.1:$proxy_port, round robin over ports $port and $port2"
fi

export CONDUCTOR_SERVER_URL="http://127.0.0.1:$port/api"
export CONDUCTOR_SERVER_VERSION="$VERSION"
export CONDUCTOR_SERVER_STORE="$STORE"
export CONDUCTOR_SERVER_PID="$server_pid"
export CONDUCTOR_SERVER_DATA="$DATA"
export CONDUCTOR_RUN_DIR="$run_dir"
export CONDUCTOR_SERVER_PAYLOAD_STORE="$PAYLOAD_STORE"
# The store processes beside the JVM (Redis, PostgreSQL's postmaster), for the benchmarks' CPU
# pinning and server CPU time (test/bench/cmd/bench/pin.go).
store_pids="$redis_pid"
if [ -n "$pg_dir" ] && [ -r "$pg_dir/data/postmaster.pid" ]; then
	store_pids="$store_pids $(head -n 1 "$pg_dir/data/postmaster.pid")"
fi
export CONDUCTOR_STORE_PIDS="${store_pids# }"
if [ "$NODES" -gt 1 ]; then
	export CONDUCTOR_SERVER_URL="http://127.0.0.1:$proxy_port/api"
	export CONDUCTOR_NODES="$NODES"
	export CONDUCTOR_NODE_URLS="http://127.0.0.1:$port/api http://127.0.0.1:$port2/api"
	export CONDUCTOR_NODE_PIDS="$server_pid $server2_pid"
fi
printf '#!/bin/sh\nexec %q server %q "$@"\n' "$here/restart.sh" "$run_dir" >"$run_dir/restart-server"
chmod +x "$run_dir/restart-server"
export CONDUCTOR_SERVER_RESTART="$run_dir/restart-server"
if [ -n "$redis_port" ]; then
	printf '#!/bin/sh\nexec %q redis %q "$@"\n' "$here/restart.sh" "$run_dir" >"$run_dir/restart-redis"
	chmod +x "$run_dir/restart-redis"
	export CONDUCTOR_REDIS_RESTART="$run_dir/restart-redis"
fi
say "running: $* (CONDUCTOR_SERVER_URL=$CONDUCTOR_SERVER_URL, store $STORE)"
cd "$root"
rc=0
t1=$SECONDS
# In the background, in its own process group, so that a TERM sent to this script is handled at
# once (bash runs traps only between foreground commands) and reaches the whole command tree.
set -m
"$@" &
cmd_pid=$!
set +m
wait "$cmd_pid" || rc=$?
cmd_pid=""
if [ "$rc" -ne 0 ]; then
	say "command failed with exit status $rc after $((SECONDS - t1)) s; server log: $log"
	exit "$rc"
fi
say "command passed in $((SECONDS - t1)) s (server $VERSION, store $STORE)"
keep_logs=0
exit 0
