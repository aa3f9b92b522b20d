#!/usr/bin/env bash
# Kills and restarts the Conductor server or the Redis that test/conductor/run.sh started: the same
# command line, port and folder, so that the server finds what it stored (its SQLite database in
# the run folder, or the Redis that kept running). run.sh exports CONDUCTOR_SERVER_RESTART and
# CONDUCTOR_REDIS_RESTART, two small scripts that call this one with the run's folder:
#
#   $CONDUCTOR_SERVER_RESTART [kill|start|restart]     (restart.sh server RUN_DIR ...)
#   $CONDUCTOR_REDIS_RESTART  [kill|start|restart]     (restart.sh redis RUN_DIR ...)
#
#   kill     SIGKILL the process (no chance to flush or close anything) and wait until it is gone
#   start    start it again unless it runs, and wait until it answers (/health; PING for Redis)
#   restart  kill, then start (the default)
#
# The Redis runs without persistence: it comes back empty. The new process id goes to
# RUN_DIR/server.pid or RUN_DIR/redis.pid, where run.sh looks when it stops everything, and is
# printed on stdout; progress goes to stderr. The server's output is appended to RUN_DIR/server.log.
set -euo pipefail

what="${1:-}"
run_dir="${2:-}"
action="${3:-restart}"
case "$what" in server | redis) ;; *)
	echo "usage: $0 server|redis RUN_DIR [kill|start|restart]" >&2
	exit 2
	;;
esac
case "$action" in kill | start | restart) ;; *)
	echo "restart.sh: action $action: want kill, start or restart" >&2
	exit 2
	;;
esac
[ -f "$run_dir/launch.env" ] || {
	echo "restart.sh: $run_dir/launch.env is missing; RUN_DIR must be a folder test/conductor/run.sh made" >&2
	exit 2
}
# shellcheck source=/dev/null # written by run.sh: server_cmd, redis_cmd, version, jar, port, redis_port, boot_timeout
source "$run_dir/launch.env"

say() { printf 'restart %s %s: %s\n' "$what" "$version" "$*" >&2; }
die() {
	say "$*"
	exit 1
}

pidfile="$run_dir/$what.pid"
if [ "$what" = server ]; then
	program="$jar"
else
	[ -n "$redis_port" ] || die "this run has no Redis"
	program=redis-server
fi

alive() {
	local st
	st="$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ')"
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}
# current prints the recorded process id if that process still runs our program.
current() {
	local pid
	pid="$(cat "$pidfile" 2>/dev/null || true)"
	[ -n "$pid" ] && alive "$pid" || return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$program" || return 0
	echo "$pid"
}

do_kill() {
	local pid n
	pid="$(current)"
	if [ -z "$pid" ]; then
		say "not running"
		return
	fi
	kill -KILL "$pid"
	for ((n = 0; n < 300; n++)); do
		alive "$pid" || break
		sleep 0.05
	done
	alive "$pid" && die "process $pid still there 15 s after SIGKILL"
	say "killed process $pid with SIGKILL"
}

do_start() {
	local pid t0 n
	pid="$(current)"
	if [ -n "$pid" ]; then
		say "already running (process $pid)"
		echo "$pid"
		return
	fi
	t0=$(date +%s.%N)
	if [ "$what" = server ]; then
		# A session of its own: the process outlives this script and is stopped by run.sh.
		(cd "$run_dir/work" && exec setsid "${server_cmd[@]}" >>"$run_dir/server.log" 2>&1 </dev/null) &
	else
		(exec setsid "${redis_cmd[@]}" >/dev/null 2>&1 </dev/null) &
	fi
	pid=$!
	echo "$pid" >"$pidfile"
	for ((n = 0; ; n++)); do
		if [ "$what" = server ]; then
			curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break
		else
			redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
		fi
		alive "$pid" || {
			tail -n 40 "$run_dir/$what.log" >&2 || true
			die "process $pid exited during start"
		}
		# 5 polls a second; boot_timeout in seconds.
		[ "$n" -lt $((boot_timeout * 5)) ] || die "no answer within $boot_timeout s"
		sleep 0.2
	done
	say "process $pid answers after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	echo "$pid"
}

case "$action" in
kill) do_kill ;;
start) do_start ;;
restart)
	do_kill
	do_start
	;;
esac
