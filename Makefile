# Baton: common tasks. `make help` lists them.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
PKGS := ./...

.PHONY: help test test-short test-oldest-go lint bench bench-quick bench-conductor bench-micro bench-fleet soak test-conductor test-faults test-conductor-faults test-conductor-faults-short test-conductor-cluster fuzz ci

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-22s %s\n", $$1, $$2}'

.PHONY: run
# Built, then run directly rather than with `go run`, which reports any
# non-zero exit as 1 and so turned the quickstart's 130 after Ctrl-C into a
# failure. The shell re-raises SIGINT when the program exited 130, so that
# make, too, ends as interrupted (130) and not with its own error 2.
RUN_BIN ?= $(or $(TMPDIR),/tmp)/baton-quickstart
run: ## the quickstart: 100 workflows through Baton workers on the in-process dev server or CONDUCTOR_SERVER_URL (flags: RUN_ARGS="-h")
	@$(GO) build -o $(RUN_BIN) ./examples/quickstart
	@$(RUN_BIN) $(RUN_ARGS); status=$$?; \
	if [ $$status -eq 130 ]; then trap - INT; kill -INT $$$$; fi; exit $$status

# Three go test runs at once, since most of their time is waiting (dev
# servers, backoff, a 60 s outage, token expiry) rather than CPU: test/faults
# at -parallel 4, the 3.21-profile pass of the dev server's and the
# integration tests, and every other package at -p 3. 1 min 40 s on this
# 2-core VM, quiet (2 min 46 s with the 3.21 pass after the rest at the
# default -p). Not more: at -parallel 8 with the other packages at -p 4 the
# machine stalled for seconds, longer than the (then) 2 s token life of
# TestShortLivedTokens. The background runs' output goes to files, printed
# when they end.
test: ## run every test of the module with the race detector (the README's test command)
	@set -e; out=$$(mktemp); out321=$$(mktemp); \
	$(GO) test -race -count=1 -parallel 4 ./test/faults/ >$$out 2>&1 & faults=$$!; \
	CONDUCTORTEST_VERSION=3.21 $(GO) test -race -count=1 ./sdk/conductortest/ ./test/integration/ >$$out321 2>&1 & p321=$$!; \
	trap 'kill $$faults $$p321 2>/dev/null || true; rm -f $$out $$out321' EXIT; \
	echo "go test -race -count=1 -p 3 (every package but test/faults)"; \
	rc=0; $(GO) test -race -count=1 -p 3 $$($(GO) list $(PKGS) | grep -v '/test/faults$$') || rc=$$?; \
	echo "CONDUCTORTEST_VERSION=3.21 go test -race -count=1 ./sdk/conductortest/ ./test/integration/ (started first)"; \
	wait $$p321 || rc=$$?; cat $$out321; \
	echo "go test -race -count=1 -parallel 4 ./test/faults/ (started first)"; \
	wait $$faults || rc=$$?; cat $$out; exit $$rc

# -p 8 -parallel 4: under -short the packages mostly wait (dev servers,
# callbacks, backoff) and most of the wall time is linking test binaries, so
# more at a time fit on two cores: 59 s (-p 4) -> 38 s on this 2-core VM.
test-short: ## the quick subset (skips the long end-to-end runs), under a minute
	$(GO) test -race -count=1 -short -p 8 -parallel 4 $(PKGS)

# The oldest Go release the module supports (go.mod's go line: the older of the
# two releases Go supports). The toolchain comes through the module proxy
# (GOTOOLCHAIN), so nothing needs installing; a -short run without -race keeps
# this step near a minute on CI.
GO_OLDEST ?= go1.25.14
test-oldest-go: ## build, vet and run the -short unit tests on the oldest supported Go (GO_OLDEST, fetched via GOTOOLCHAIN)
	GOTOOLCHAIN=$(GO_OLDEST) $(GO) version
	GOTOOLCHAIN=$(GO_OLDEST) $(GO) vet $(PKGS)
	GOTOOLCHAIN=$(GO_OLDEST) $(GO) test -count=1 -short -p 4 $(PKGS)

lint: ## gofmt check, go vet and staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

bench: ## Baton vs the official Go SDK vs a bare poll/update loop: writes BENCHMARKS.md and docs/bench.png (under 10 min)
	cd test/bench && $(GO) run ./cmd/bench -out ../../BENCHMARKS.md -chart ../../docs/bench.png

bench-quick: ## the same driver, CI-sized (one round, fewer tasks), report to stdout only
	cd test/bench && $(GO) test -count=1 ./... && $(GO) run ./cmd/bench -quick

# Each server in turn (never two JVMs at once): test/conductor/run.sh starts
# it on a free loopback port, exports CONDUCTOR_SERVER_URL/_VERSION/_STORE,
# runs the driver and stops the server. BENCH_CONDUCTOR_SERVERS picks a subset
# (version:store ...); BENCH_CONDUCTOR_ARGS shortens a run (e.g. "-rounds 1
# -tasks 500 -types-n 10,400"). BENCH_PIN places the server (JVM and store)
# and the driver with its workers on disjoint CPUs with taskset: auto (halves
# of the CPUs: on 2 cores the server on CPU 0, the rest on CPU 1), off, or
# SERVER/WORKER lists (e.g. 0/1). BENCH_PYTHON=off leaves out the official
# Python SDK, which the driver otherwise installs into a virtual environment
# under ~/.cache/baton (python3 with venv and pip needed; PyPI reached once).
BENCH_CONDUCTOR_SERVERS ?= 3.21.14:redis 3.32.3:sqlite 3.32.3:redis
BENCH_CONDUCTOR_ARGS ?=
BENCH_PIN ?= auto
BENCH_PYTHON ?= auto
bench-conductor: ## Baton vs the official Go and Python SDKs vs the limit on real Conductor servers, server and workers pinned to separate CPUs (3.21.14 redis, 3.32.3 sqlite and redis): adds its section to BENCHMARKS.md and docs/bench-conductor.png (10-20 min per server here)
	cd test/bench && $(GO) build -o /dev/null ./cmd/bench
	@set -e; for spec in $(BENCH_CONDUCTOR_SERVERS); do \
	  echo "== bench-conductor: Conductor $${spec%%:*} ($${spec##*:})"; \
	  CONDUCTOR_VERSION=$${spec%%:*} CONDUCTOR_STORE=$${spec##*:} test/conductor/run.sh sh -c \
	    'cd test/bench && exec $(GO) run ./cmd/bench -server "$$CONDUCTOR_SERVER_URL" -server-version "$$CONDUCTOR_SERVER_VERSION" -server-store "$$CONDUCTOR_SERVER_STORE" -pin $(BENCH_PIN) -python $(BENCH_PYTHON) $(BENCH_CONDUCTOR_ARGS) -out ../../BENCHMARKS.md -chart ../../docs/bench-conductor.png -real-data ../../docs/bench-conductor'; \
	done

# What fleets of worker processes cost a real server, Baton beside the
# official SDK: BENCH_FLEET_SERVERS picks the servers (version:store ...),
# BENCH_FLEET_ARGS shortens a run (e.g. "-rounds 1 -fleet-n 5"). Tomcat's
# busy-thread gauge needs its MBean registry, hence the JVM option.
BENCH_FLEET_SERVERS ?= 3.21.14:redis 3.32.3:sqlite 3.32.3:redis
BENCH_FLEET_ARGS ?=
FLEET_BIN := $(or $(TMPDIR),/tmp)/baton-fleet-bench
bench-fleet: ## fleets of 5, 20 and 50 worker processes (50 idle types + 1 busy each), Baton vs the official SDK, on real servers: server busy threads, CPU, read/start/pickup latency into docs/fleet-*.md (about 20 min per server)
	cd test/bench && $(GO) build -o $(FLEET_BIN) ./cmd/bench
	@set -e; for spec in $(BENCH_FLEET_SERVERS); do \
	  echo "== bench-fleet: Conductor $${spec%%:*} ($${spec##*:})"; \
	  CONDUCTOR_JAVA_OPTS="-Xms256m -Xmx1g -Dserver.tomcat.mbeanregistry.enabled=true" \
	  CONDUCTOR_VERSION=$${spec%%:*} CONDUCTOR_STORE=$${spec##*:} test/conductor/run.sh sh -c \
	    'cd test/bench && exec $(FLEET_BIN) -server env -fleet -pin $(BENCH_PIN) $(BENCH_FLEET_ARGS) -out "../../docs/fleet-$$CONDUCTOR_SERVER_VERSION-$$CONDUCTOR_SERVER_STORE.md"'; \
	done

# The soak: SOAK sets its length (a Go duration; default 30m), SOAK_RESTART
# how often the server is restarted, SOAK_SERVER the real server
# (version:store). The dev-server soak and the real-server one run at the
# same time (one JVM); each writes docs/soak-*.md and a chart. Not in CI.
SOAK ?= 30m
SOAK_RESTART ?= 8m
SOAK_SERVER ?= 3.32.3:sqlite
SOAK_BIN := $(or $(TMPDIR),/tmp)/baton-soak-bench
soak: ## 30 min (SOAK=) steady load with server restarts on the dev server and on a real one (SOAK_SERVER=3.32.3:sqlite): worker RSS, goroutines, sockets and workflows over time, into docs/soak-*.md and .png
	cd test/bench && $(GO) build -o $(SOAK_BIN) ./cmd/bench
	@set -u; \
	(cd test/bench && $(SOAK_BIN) -soak -soak-for $(SOAK) -soak-rate 200 -soak-restart-every $(SOAK_RESTART) -soak-down 30s \
	  -out ../../docs/soak-dev.md -chart ../../docs/soak-dev.png) & dev=$$!; \
	spec=$(SOAK_SERVER); CONDUCTOR_VERSION=$${spec%%:*} CONDUCTOR_STORE=$${spec##*:} test/conductor/run.sh sh -c \
	  'cd test/bench && exec $(SOAK_BIN) -soak -server env -soak-for $(SOAK) -soak-rate 10 -soak-restart-every $(SOAK_RESTART) \
	    -out ../../docs/soak-conductor.md -chart ../../docs/soak-conductor.png'; real=$$?; \
	wait $$dev; dev=$$?; echo "soak: dev server exit $$dev, real server exit $$real"; [ $$dev -eq 0 ] && [ $$real -eq 0 ]

bench-micro: ## go test micro-benchmarks of the hot paths, allocations included
	$(GO) test -run '^$$' -bench . -benchmem ./sdk/...

# The real-server tier runs on each entry, VERSION or VERSION:STORE (for example 3.32.3:redis); with
# CONDUCTOR_VERSION=X (and optionally CONDUCTOR_STORE=redis|sqlite) on that one only. test/conductor/run.sh
# documents both knobs.
#
# Large payloads (issue 25): every run gives the server a PostgreSQL as its external payload storage
# where it can have one (CONDUCTOR_PAYLOAD_STORE=auto: 3.21.x, and 3.32.x with Redis; 3.32.x with
# SQLite cannot), and the integration suite's payload tests run there. PAYLOAD_SERVERS are extra
# entries that run only those tests (test/conductor/payload.sh): 3.32.3 with Redis, since its SQLite default
# cannot have the PostgreSQL store.
CONDUCTOR_VERSIONS ?= 3.21.14 3.32.3
PAYLOAD_SERVERS ?= 3.32.3:redis
test-conductor: ## the integration suite and conductortest's black-box tests against Conductor OSS 3.21.14 and 3.32.3 (CONDUCTOR_VERSION=X for one; downloads on first use)
	@if [ -n "$(CONDUCTOR_VERSION)" ]; then \
	  CONDUCTOR_VERSION=$(CONDUCTOR_VERSION) CONDUCTOR_PAYLOAD_STORE=auto test/conductor/run.sh test/conductor/suite.sh; \
	else \
	  failed=""; \
	  for entry in $(CONDUCTOR_VERSIONS); do \
	    v=$${entry%%:*}; st=; [ "$$v" = "$$entry" ] || st=$${entry#*:}; \
	    echo "== test-conductor: Conductor $$v $${st:-(default store)}"; \
	    t0=$$SECONDS; \
	    CONDUCTOR_VERSION=$$v CONDUCTOR_STORE=$$st CONDUCTOR_PAYLOAD_STORE=auto test/conductor/run.sh test/conductor/suite.sh || failed="$$failed $$entry"; \
	    echo "== test-conductor: Conductor $$entry took $$((SECONDS - t0)) s"; \
	  done; \
	  for entry in $(PAYLOAD_SERVERS); do \
	    v=$${entry%%:*}; st=; [ "$$v" = "$$entry" ] || st=$${entry#*:}; \
	    echo "== test-conductor: payload tests on Conductor $$v $${st:-(default store)} with PostgreSQL external storage"; \
	    t0=$$SECONDS; \
	    CONDUCTOR_VERSION=$$v CONDUCTOR_STORE=$$st CONDUCTOR_PAYLOAD_STORE=postgres test/conductor/run.sh \
	      test/conductor/payload.sh || failed="$$failed payload:$$entry"; \
	    echo "== test-conductor: payload tests on $$entry took $$((SECONDS - t0)) s"; \
	  done; \
	  if [ -n "$$failed" ]; then echo "test-conductor: failed on$$failed"; exit 1; fi; \
	  echo "test-conductor: passed on $(CONDUCTOR_VERSIONS)"; \
	fi

# Two nodes of one version on one Redis behind test/conductor/lbproxy (run.sh with CONDUCTOR_NODES=2; 3.21
# keeps its workflows in the Redis so that both nodes see them): the shutdown and hand-back tests through the
# proxy, the cross-node wake measurement, and node 1 killed and restarted under 300 workflows
# (test/realfaults TestServerKilled; docs/compatibility.md "Clusters"). Not part of CI: two JVMs
# boot at once (3-6 min here per version). CLUSTER_SERVERS picks the versions, CLUSTER_TESTS the tests;
# the scheduler's verdict (TestSchedulerLearnsWhetherHeldPollsWake) expects both clusters to be watched.
CLUSTER_SERVERS ?= 3.32.3 3.21.14
CLUSTER_TESTS ?= TestShutdownSwallowsNoTask|TestInProgressWithoutCallbackRequeuesAtOnce|TestClusterHeldPollWakesAcrossNodes|TestSchedulerLearnsWhetherHeldPollsWake
test-conductor-cluster: ## shutdown, hand-back, held-poll wake and node-kill tests against two Conductor nodes behind a round-robin proxy (3.32.3 and 3.21.14 on Redis; not in CI)
	@failed=""; \
	for v in $(CLUSTER_SERVERS); do \
	  echo "== test-conductor-cluster: two Conductor $$v nodes on one Redis"; \
	  t0=$$SECONDS; \
	  CONDUCTOR_NODES=2 CONDUCTOR_VERSION=$$v CONDUCTOR_STORE=redis CONDUCTOR_DATA=redis BATON_IT_CLUSTER=1 BATON_IT_SCHEDULER=1 \
	  REALFAULTS_WORKFLOWS=300 REALFAULTS_RESPONSE_TIMEOUT=30 test/conductor/run.sh sh -c \
	    '$(GO) test -race -count=1 -v -timeout 30m -run "^($(CLUSTER_TESTS))$$" ./test/integration/ && \
	     $(GO) test -race -count=1 -v -timeout 30m -run "^TestServerKilled$$" ./test/realfaults/' || failed="$$failed $$v"; \
	  echo "== test-conductor-cluster: $$v took $$((SECONDS - t0)) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-conductor-cluster: failed on$$failed"; exit 1; fi; \
	echo "test-conductor-cluster: passed on $(CLUSTER_SERVERS)"

test-faults: ## the fault suite: outages, injected errors, bad handlers, SIGTERM (about 5 minutes)
	$(GO) test -race -count=1 -timeout 20m ./test/faults/...

# Faults against real servers (test/realfaults, RELIABILITY.md "Faults on real servers"). Each entry
# VERSION:STORE[:DATA[:TESTS]] gets its own server from test/conductor/run.sh (one at a time):
# DATA is CONDUCTOR_DATA (3.21: memory as shipped, or redis so that a killed server keeps its
# workflows), TESTS a comma-separated list of test names (default: every test, each skips where it
# does not apply).
# REALFAULTS_WORKFLOWS sets the workload per scenario, REALFAULTS_RESPONSE_TIMEOUT the tasks'
# responseTimeoutSeconds in the restart scenarios.
FAULTS_SERVERS ?= 3.21.14:redis:redis 3.21.14:redis:memory:TestRedisRestarted 3.32.3:sqlite
REALFAULTS_WORKFLOWS ?= 3000
REALFAULTS_RESPONSE_TIMEOUT ?= 90
test-conductor-faults: ## real Conductor servers killed and restarted, their Redis restarted, a faulty network, 5xx under load (3.21.14 and 3.32.3; 15-30 min here)
	@failed=""; \
	for spec in $(FAULTS_SERVERS); do \
	  IFS=: read -r v st data tests <<<"$$spec"; tests="$${tests//,/|}"; \
	  echo "== test-conductor-faults: Conductor $$v, store $$st, workflows in $${data:-the default place}, tests $${tests:-all}"; \
	  t0=$$SECONDS; \
	  CONDUCTOR_VERSION=$$v CONDUCTOR_STORE=$$st CONDUCTOR_DATA=$$data \
	  REALFAULTS_WORKFLOWS=$(REALFAULTS_WORKFLOWS) REALFAULTS_RESPONSE_TIMEOUT=$(REALFAULTS_RESPONSE_TIMEOUT) \
	    test/conductor/run.sh $(GO) test -race -count=1 -v -timeout 90m -run "^($${tests:-.*})\$$" ./test/realfaults/ || failed="$$failed $$spec"; \
	  echo "== test-conductor-faults: $$spec took $$((SECONDS - t0)) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-conductor-faults: failed on$$failed"; exit 1; fi; \
	echo "test-conductor-faults: passed on $(FAULTS_SERVERS)"

# CI's cut (.ci/run): one server, 3.21.14 with its workflows in Redis (it boots and restarts in
# seconds where 3.32.3 takes a minute or more), the kill, network and injected-5xx scenarios, 200
# workflows each; about 4-5 minutes here.
test-conductor-faults-short: ## the CI cut of test-conductor-faults: 3.21.14, kill/network/5xx scenarios, 200 workflows (about 5 min)
	$(MAKE) test-conductor-faults REALFAULTS_WORKFLOWS=200 REALFAULTS_RESPONSE_TIMEOUT=30 \
	  FAULTS_SERVERS=3.21.14:redis:redis:TestServerKilled,TestNetworkFaults,TestInjectedBusyAnswers,TestTCPProxy,TestBusyInjector

# A fuzz run that ends with nothing but "context deadline exceeded" found nothing: the go
# command's coordinator timed out waiting for a worker at the end of FUZZTIME (a loaded
# machine shows it; no failing input is written). Such a run is repeated once; any run that
# reports a failing input fails at once.
FUZZTIME ?= 30s
fuzz: ## run every fuzz test for FUZZTIME each (seed corpora live in testdata/fuzz)
	@set -e; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	grep -rlE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' sdk internal examples test 2>/dev/null | sort | while read -r file; do \
	  dir=./$$(dirname "$$file"); \
	  for f in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$$file"); do \
	    for try in 1 2; do \
	      echo "== $$dir $$f"; \
	      if $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) "$$dir" </dev/null 2>&1 | tee "$$out"; test "$${PIPESTATUS[0]}" -eq 0; then break; fi; \
	      if [ "$$try" -eq 1 ] && grep -q 'context deadline exceeded' "$$out" && ! grep -q 'Failing input written' "$$out"; then \
	        echo "== $$dir $$f: the fuzzing engine timed out at the deadline without a finding; once more"; continue; \
	      fi; \
	      exit 1; \
	    done; \
	  done; \
	done

# `make test` covers ./... and so the fault suite too; CI keeps the fuzzers
# alive at 10 s each; run `make fuzz` for longer sessions.
ci: lint test test-oldest-go test-conductor test-conductor-faults-short bench-quick ## what .ci/run calls
	$(MAKE) fuzz FUZZTIME=10s
