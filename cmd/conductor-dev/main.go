// Command conductor-dev runs the in-memory Conductor-compatible server of
// package conductortest as a program, for curl, other SDKs and benchmarks.
//
//	conductor-dev -addr 127.0.0.1:8080 -log-level debug
//
// The API is under http://ADDR/api; health at /health (as on Conductor OSS,
// /api/health is a 404). With
// -auth-key and -auth-secret, POST /api/token hands out tokens and every
// other request needs one in X-Authorization. The server keeps everything in
// memory and exits cleanly on SIGINT or SIGTERM. -payload-store presigned or
// postgres turns on external payload storage (large payloads kept out of
// tasks and workflows, as Conductor does with
// conductor.external-payload-storage.type set).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/baton-go/baton/internal/devflags"
	"github.com/baton-go/baton/sdk/conductortest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("conductor-dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	authKey := fs.String("auth-key", "", "key id for Orkes-style token auth (auth is off unless key and secret are both set)")
	authSecret := fs.String("auth-secret", "", "key secret for token auth")
	tokenTTL := fs.Duration("token-ttl", 45*time.Minute, "lifetime of issued tokens") // as WithTokenTTL's default
	logLevel := fs.String("log-level", "info", "log level: debug (one line per request), info, warn, error")
	ownerOptional := fs.Bool("owner-email-optional", false, "accept definitions without ownerEmail in the 3.21 profile too (Conductor 3.21 requires it; 3.32, the default profile, does not)")
	version := fs.String("conductor-version", "", "the Conductor OSS release line to answer as where they differ: 3.21 or 3.32 (default: the dev server's, 3.32, the newest; see docs/compatibility.md)")
	longPoll := fs.String("long-poll", "default", "how batch polls with a timeout wait: early (answer at the first task: 3.32 with Redis), full-batch (gather tasks every 100 ms until count or the timeout: 3.32 with SQLite or Postgres), hold (3.21 with Redis: only tasks there at the start, after the whole timeout unless count were there) or default (the version's: hold for 3.21, full-batch for 3.32)")
	maxRequests := fs.Int("max-concurrent-requests", 0, "requests served at once, the rest wait for a slot (real servers: 200 Tomcat threads); 0 is unbounded")
	// Conductor's defaults (conductortest.PayloadLimits{}), in KB.
	const taskKB, taskOutputLimitKB, workflowKB = 3072, 10240, 5120
	payloadStore := fs.String("payload-store", "none", "external payload storage: none, presigned (S3-like: clients GET and PUT pre-signed URLs) or postgres (reads through /api/external/postgres/{key}, large outputs sent inline); see docs/compatibility.md")
	taskThreshold := fs.Int64("payload-task-threshold-kb", taskKB, "with -payload-store: task inputs and outputs over this many KB are kept in the store (conductor.app.taskInput/OutputPayloadSizeThreshold)")
	taskLimit := fs.Int64("payload-task-output-limit-kb", taskOutputLimitKB, "with -payload-store: a task output over this many KB fails the task (conductor.app.maxTaskOutputPayloadSizeThreshold)")
	wfThreshold := fs.Int64("payload-workflow-threshold-kb", workflowKB, "with -payload-store: workflow inputs and outputs over this many KB are kept in the store")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h asked for the flags, which Parse has printed
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "conductor-dev: unexpected arguments: %v\n", fs.Args())
		return 2
	}
	level, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "conductor-dev: -log-level: %v\n", err)
		return 2
	}
	if (*authKey == "") != (*authSecret == "") {
		fmt.Fprintln(stderr, "conductor-dev: -auth-key and -auth-secret must be given together")
		return 2
	}
	var opts []conductortest.Option
	if *version != "" {
		cv, err := devflags.ParseVersion(*version)
		if err != nil {
			fmt.Fprintf(stderr, "conductor-dev: -conductor-version: %v\n", err)
			return 2
		}
		opts = append(opts, conductortest.WithVersion(cv))
	}
	mode, err := devflags.ParseLongPollMode(*longPoll)
	if err != nil {
		fmt.Fprintf(stderr, "conductor-dev: -long-poll: %v\n", err)
		return 2
	}
	if *maxRequests < 0 {
		fmt.Fprintf(stderr, "conductor-dev: -max-concurrent-requests must be >= 0 (0: unbounded), got %d\n", *maxRequests)
		return 2
	}
	store, err := devflags.ParsePayloadStore(*payloadStore)
	if err != nil {
		fmt.Fprintf(stderr, "conductor-dev: -payload-store: %v\n", err)
		return 2
	}
	if *taskThreshold < 0 || *taskLimit < 0 || *wfThreshold < 0 {
		fmt.Fprintln(stderr, "conductor-dev: the -payload-*-kb sizes must be >= 0 (0 turns that check off)")
		return 2
	}
	if *tokenTTL <= 0 {
		fmt.Fprintf(stderr, "conductor-dev: -token-ttl must be > 0, got %v\n", *tokenTTL)
		return 2
	}
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetLevel(level)

	opts = append(opts, conductortest.WithAddr(*addr), conductortest.WithLogger(log), conductortest.WithTokenTTL(*tokenTTL),
		conductortest.WithLongPoll(mode), conductortest.WithMaxConcurrentRequests(*maxRequests))
	if *authKey != "" {
		opts = append(opts, conductortest.WithAuth(*authKey, *authSecret))
	}
	if store != "none" {
		task, wf := bytesOrOff(*taskThreshold), bytesOrOff(*wfThreshold)
		opts = append(opts, conductortest.WithExternalPayloadStorage(store, conductortest.PayloadLimits{
			TaskInput: task, TaskOutput: task, MaxTaskOutput: bytesOrOff(*taskLimit), WorkflowInput: wf, WorkflowOutput: wf,
		}))
	}
	if *ownerOptional {
		opts = append(opts, conductortest.WithOwnerEmailOptional())
	}
	// Catch the signals before saying we listen: a supervisor (or a test)
	// may send SIGTERM as soon as it sees that line, and the default action
	// would kill the process instead of closing the server.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := conductortest.Start(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "conductor-dev: %v\n", err)
		return 1
	}
	log.WithFields(logrus.Fields{"url": srv.URL(), "auth": *authKey != "", "conductorVersion": srv.Version(), "longPoll": mode, "payloadStore": store}).Info("conductor-dev: listening")

	<-ctx.Done()
	log.Info("conductor-dev: shutting down")
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
		return 0
	case <-time.After(10 * time.Second):
		log.Error("conductor-dev: shutdown took longer than 10s")
		return 1
	}
}

// bytesOrOff turns a -payload-*-kb value into a PayloadLimits field: 0
// turns the check off, which PayloadLimits spells as a negative size (its
// zero is Conductor's default).
func bytesOrOff(kb int64) int64 {
	if kb == 0 {
		return -1
	}
	return kb << 10
}
