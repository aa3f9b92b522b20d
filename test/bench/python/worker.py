"""The official Python SDK (conductor-python) as a contender of test/bench.

The bench driver (test/bench/cmd/bench) creates a virtual environment with the
pinned conductor-python release and starts this program with that
environment's interpreter. It speaks the driver's child protocol on
stdin/stdout (see cmd/bench/child.go):

    child -> driver: "ready" once the workers are built
    driver -> child: "go": start the workers (TaskHandler.start_processes)
    child -> driver: "pick <workflowId> <unix ns> <scheduledTime ms>" per task with --pickup
    driver -> child: "exit" (or EOF): stop the workers and exit

The driver reads this program's CPU time from /proc over its whole process
tree (the SDK runs one process per task type, plus a logging process), so
there is no "stats" answer here.

The SDK is used as its documentation shows, with its defaults: one Worker per
task type with thread_count = the batch size and poll_interval = the driver's
interval, in a TaskHandler (one process per worker, started with the 'spawn'
method the SDK selects), no metrics.
"""

import argparse
import os
import sys
import time

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models.task import Task
from conductor.client.worker.worker import Worker

OUTPUT = {"ok": True}


def _say(line: str) -> None:
    # One write per line on the inherited descriptor: the worker processes
    # write to the same pipe, and a short write() is not interleaved.
    os.write(1, (line + "\n").encode())


def handle(task: Task) -> dict:
    """The trivial handler every contender runs (module level: the SDK's
    worker processes are spawned and import it by name)."""
    if os.environ.get("BENCH_PY_PICKUP") == "1":
        _say("pick %s %d %d" % (task.workflow_instance_id, time.time_ns(), task.scheduled_time or 0))
    sleep = float(os.environ.get("BENCH_PY_SLEEP", "0"))
    if sleep > 0:
        time.sleep(sleep)
    return OUTPUT


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="server base URL (.../api)")
    ap.add_argument("--types", required=True, help="comma-separated task types")
    ap.add_argument("--batch", type=int, default=1, help="thread_count per worker")
    ap.add_argument("--interval-ms", type=float, default=100, help="poll_interval (ms)")
    ap.add_argument("--sleep-ms", type=float, default=0, help="handler duration (ms)")
    ap.add_argument("--pickup", action="store_true", help="report each task's workflow id and handler time")
    args = ap.parse_args()

    # Read by handle() in the spawned worker processes, which inherit the
    # environment but not this process's variables.
    os.environ["BENCH_PY_PICKUP"] = "1" if args.pickup else "0"
    os.environ["BENCH_PY_SLEEP"] = str(args.sleep_ms / 1000.0)

    config = Configuration(server_api_url=args.url)
    workers = [
        Worker(task_definition_name=t, execute_function=handle, poll_interval=args.interval_ms,
               thread_count=args.batch, worker_id="bench-python")
        for t in args.types.split(",") if t
    ]
    handler = TaskHandler(workers=workers, configuration=config, scan_for_annotated_workers=False)
    _say("ready")
    started = False
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "go" and not started:
            handler.start_processes()
            started = True
        elif cmd == "exit":
            break
    handler.stop_processes()
    return 0


if __name__ == "__main__":
    sys.exit(main())
