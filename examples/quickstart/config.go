package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/baton-go/baton/sdk/settings"
)

// config is what the command line and the environment decide.
type config struct {
	workflows   int           // how many workflows to start
	batchSize   int           // execution slots per task type
	metricsPort int           // port of the Prometheus /metrics endpoint; 0 disables it
	timeout     time.Duration // give up waiting for the workflows after this long
	// linger keeps the metrics and status pages up this long after the
	// summary, so that a newcomer can look at them; Ctrl-C ends it sooner.
	linger time.Duration
	// server and auth come from settings.FromEnv when CONDUCTOR_SERVER_URL
	// is set; a nil server means: start the in-process dev server.
	server *settings.HttpSettings
	auth   *settings.AuthenticationSettings
}

const (
	defaultWorkflows   = 100
	defaultBatchSize   = 20
	defaultMetricsPort = settings.DefaultMetricsPort
	defaultTimeout     = 3 * time.Minute
	defaultLinger      = 10 * time.Second
)

// parseConfig reads the flags in args and, when CONDUCTOR_SERVER_URL is set,
// the server settings from the environment (fromEnv is settings.FromEnv
// outside tests).
func parseConfig(args []string, getenv func(string) string, fromEnv func() (*settings.AuthenticationSettings, *settings.HttpSettings, error), stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./examples/quickstart [flags]\n\n"+
			"Runs Baton workers for a small order workflow and prints a summary.\n"+
			"Uses the Conductor server at $CONDUCTOR_SERVER_URL (with $CONDUCTOR_AUTH_KEY and\n"+
			"$CONDUCTOR_AUTH_SECRET when set); without it, starts an in-process dev server.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.workflows, "workflows", defaultWorkflows, "number of workflows to start")
	fs.IntVar(&cfg.batchSize, "batch", defaultBatchSize, "execution slots (batch size) of each worker")
	fs.IntVar(&cfg.metricsPort, "metrics-port", defaultMetricsPort, "port of the Prometheus /metrics endpoint; 0 disables it")
	fs.DurationVar(&cfg.timeout, "timeout", defaultTimeout, "stop waiting for unfinished workflows after this long")
	fs.DurationVar(&cfg.linger, "linger", defaultLinger, "keep serving metrics and worker status this long after the summary (Ctrl-C quits sooner; 0: exit at once)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if getenv(settings.EnvServerURL) != "" {
		auth, server, err := fromEnv()
		if err != nil {
			return config{}, err
		}
		cfg.auth, cfg.server = auth, server
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	var errs []error
	if c.workflows < 1 {
		errs = append(errs, fmt.Errorf("-workflows must be >= 1, got %d", c.workflows))
	}
	if c.batchSize < 1 {
		errs = append(errs, fmt.Errorf("-batch must be >= 1, got %d", c.batchSize))
	}
	if c.metricsPort < 0 || c.metricsPort > 65535 {
		errs = append(errs, fmt.Errorf("-metrics-port must be between 0 and 65535, got %d", c.metricsPort))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout must be > 0, got %s", c.timeout))
	}
	if c.linger < 0 {
		errs = append(errs, fmt.Errorf("-linger must be >= 0, got %s", c.linger))
	}
	return errors.Join(errs...)
}
