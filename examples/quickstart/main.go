// Command quickstart runs Baton workers for a small order workflow and shows
// what they do: `make run` (or `go run ./examples/quickstart`).
//
// Without CONDUCTOR_SERVER_URL it starts Baton's in-process dev server, so
// nothing else needs to be installed. With it (for example
// http://localhost:8080/api for a local Conductor OSS), it uses that server,
// authenticating with CONDUCTOR_AUTH_KEY and CONDUCTOR_AUTH_SECRET when both
// are set (Orkes).
//
// It registers four task definitions and a workflow that chains them, starts
// -workflows executions (100 by default), runs one worker per task type
// through a TaskRunner with Prometheus metrics on :2112, draws a progress
// line, and ends with a summary. Ctrl-C stops it gracefully. The exit code is
// 0 only when every workflow completed.
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

	"github.com/baton-go/baton/sdk/settings"
)

// errInterrupted is returned by run when the user stopped it.
var errInterrupted = errors.New("interrupted")

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, settings.FromEnv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err = run(ctx, os.Stdout, isTerminal(os.Stdout), cfg)
	os.Exit(exitCode(os.Stderr, err))
}

// exitCode reports err and maps it to the process exit code: 0 when every
// workflow completed, 130 after Ctrl-C (the shell convention for SIGINT), 1
// otherwise.
func exitCode(stderr io.Writer, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(stderr, "quickstart: interrupted")
		return 130
	default:
		fmt.Fprintln(stderr, "quickstart:", err)
		return 1
	}
}
