package worker

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Deployment-time configuration.
//
// The Java and Python SDKs let an operator change any worker's settings
// without touching code: conductor.worker.all.<property> applies to every
// worker, conductor.worker.<taskName>.<property> to one, and each may also be
// written as an upper-case environment variable (CONDUCTOR_WORKER_ALL_PAUSED,
// CONDUCTOR_WORKER_<TASKNAME>_PAUSED). A worker-specific value beats a global
// one, which beats what the code says. The runner takes a snapshot of the
// environment when it is created and applies it to each worker as it starts.

// envProperty is one worker property the environment may set; its spellings
// are those the other SDKs accept, in the dotted (property file) form. The
// upper-case form of each is derived (pollInterval -> POLL_INTERVAL).
type envProperty struct {
	name      string   // Baton's name, used in logs and WorkerStatus.ConfigSources
	spellings []string // dotted-form property names
	apply     func(wc *workerConfig, value string) error
}

// envProperties lists what can be set, in the order they are applied. A
// function rather than a package variable: the table is built per use (only
// at Start) and nothing at package level can be changed.
func envProperties() []envProperty {
	return []envProperty{
		{"batchSize", []string{"batchSize", "batch_size", "threadCount", "thread_count"}, applyEnvBatchSize},
		{"pollInterval", []string{"pollInterval", "poll_interval", "pollingInterval", "poll_interval_millis"}, applyEnvPollInterval},
		{"pollTimeout", []string{"pollTimeout", "poll_timeout", "poll_timeout_millis"}, applyEnvPollTimeout},
		{"domain", []string{"domain"}, func(wc *workerConfig, v string) error { wc.domain = v; return nil }},
		{"paused", []string{"paused"}, func(wc *workerConfig, v string) error {
			b, err := parseEnvBool(v)
			wc.paused = b
			return err
		}},
		{"leaseExtendEnabled", []string{"leaseExtendEnabled", "lease_extend_enabled"}, func(wc *workerConfig, v string) error {
			b, err := parseEnvBool(v)
			wc.noLease = !b
			return err
		}},
	}
}

func applyEnvBatchSize(wc *workerConfig, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return fmt.Errorf("must be a whole number >= 1")
	}
	wc.batchSize = n
	return nil
}

func applyEnvPollInterval(wc *workerConfig, v string) error {
	d, err := parseEnvDuration(v)
	if err != nil {
		return err
	}
	if d < PollIntervalMin {
		return fmt.Errorf("must be at least %v", PollIntervalMin)
	}
	wc.pollInterval = d
	return nil
}

func applyEnvPollTimeout(wc *workerConfig, v string) error {
	d, err := parseEnvDuration(v)
	if err != nil {
		return err
	}
	if err := checkPollTimeout(d); err != nil {
		return err
	}
	wc.pollTimeout, wc.pollTimeoutS = d, true
	return nil
}

// parseEnvDuration reads milliseconds ("250", as the other SDKs write it) or
// a Go duration ("250ms", "1s").
func parseEnvDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		if ms < 0 || ms > int64(time.Hour/time.Millisecond) {
			return 0, fmt.Errorf("must be between 0 and 3600000 milliseconds")
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("must be milliseconds (e.g. 250) or a duration (e.g. 250ms, 1s)")
	}
	return d, nil
}

func parseEnvBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("must be true or false")
}

// upperEnvName is the upper-case environment form of a dotted-form name:
// camelCase and dots become underscores (pollInterval -> POLL_INTERVAL).
func upperEnvName(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// upperTaskName is a task name as an upper-case variable name can hold it:
// letters upper-cased, anything but letters, digits and _ turned into _.
func upperTaskName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return '_'
	}, s)
}

// workerEnv is the runner's snapshot of the worker variables.
type workerEnv struct {
	vars map[string]string
}

const (
	envDottedPrefix = "conductor.worker."
	envUpperPrefix  = "CONDUCTOR_WORKER_"
)

// newWorkerEnv keeps the entries of environ (KEY=value) that configure
// workers.
func newWorkerEnv(environ []string) workerEnv {
	e := workerEnv{vars: map[string]string{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && (strings.HasPrefix(k, envDottedPrefix) || strings.HasPrefix(k, envUpperPrefix)) {
			e.vars[k] = v
		}
	}
	return e
}

// envSetting is one property found in the environment.
type envSetting struct {
	prop  *envProperty
	name  string // the variable that set it
	value string
}

// lookup finds prop at one level: scope is "all" or a task name. Every
// spelling is tried; two that disagree are an error naming both.
func (e workerEnv) lookup(prop *envProperty, scope string) (*envSetting, error) {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	upperScopes := []string{upperTaskName(scope)}
	if scope != "all" && scope != upperScopes[0] {
		upperScopes = append([]string{scope}, upperScopes...) // exact name first
	}
	for _, sp := range prop.spellings {
		add(envDottedPrefix + scope + "." + sp)
		for _, us := range upperScopes {
			add(envUpperPrefix + us + "_" + upperEnvName(sp))
		}
	}
	var found *envSetting
	for _, n := range names {
		v, ok := e.vars[n]
		if !ok {
			continue
		}
		if found != nil && !sameEnvValue(prop, found.value, v) {
			return nil, fmt.Errorf("worker: environment variables %s=%q and %s=%q both set %s and disagree", found.name, found.value, n, v, prop.name)
		}
		if found == nil {
			found = &envSetting{prop: prop, name: n, value: v}
		}
	}
	return found, nil
}

// sameEnvValue tells whether two spellings say the same: domains are
// compared exactly, numbers and booleans without regard to case.
func sameEnvValue(prop *envProperty, a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if prop.name == "domain" {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// unknownGlobal lists the global variables that name no property Baton
// knows (a typo, or a setting of another SDK such as worker_id), so the
// runner can warn about them instead of ignoring them silently.
func (e workerEnv) unknownGlobal() []string {
	known := map[string]bool{}
	for _, p := range envProperties() {
		for _, sp := range p.spellings {
			known[envDottedPrefix+"all."+sp] = true
			known[envUpperPrefix+"ALL_"+upperEnvName(sp)] = true
		}
	}
	var out []string
	for k := range e.vars {
		if (strings.HasPrefix(k, envDottedPrefix+"all.") || strings.HasPrefix(k, envUpperPrefix+"ALL_")) && !known[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// check validates the global (all) settings, so a bad one is reported by
// the first Start whatever its task type.
func (e workerEnv) check() error {
	if len(e.vars) == 0 {
		return nil
	}
	var scratch workerConfig
	props := envProperties()
	for i := range props {
		s, err := e.lookup(&props[i], "all")
		if err != nil {
			return err
		}
		if s != nil {
			if err := s.prop.apply(&scratch, s.value); err != nil {
				return envError(s, err)
			}
		}
	}
	return nil
}

func envError(s *envSetting, err error) error {
	return fmt.Errorf("worker: environment variable %s=%q: %s %w", s.name, s.value, s.prop.name, err)
}

// apply overrides wc with what the environment says for taskName: global
// values first, then the task's own. It records which variable set each
// property in wc.sources.
func (e workerEnv) apply(taskName string, wc *workerConfig) error {
	if len(e.vars) == 0 {
		return nil
	}
	props := envProperties()
	for _, scope := range []string{"all", taskName} {
		for i := range props {
			s, err := e.lookup(&props[i], scope)
			if err != nil {
				return err
			}
			if s == nil {
				continue
			}
			if err := s.prop.apply(wc, s.value); err != nil {
				return envError(s, err)
			}
			if wc.sources == nil {
				wc.sources = map[string]string{}
			}
			wc.sources[s.prop.name] = s.name
		}
	}
	return nil
}

// WithEnviron makes the runner read worker configuration from environ
// (KEY=value entries, as os.Environ returns them) instead of the process
// environment; WithEnviron(nil) turns deployment-time configuration off.
// Default: os.Environ() at NewTaskRunner time.
func WithEnviron(environ []string) Option {
	return func(c *runnerConfig) {
		env := newWorkerEnv(environ)
		c.env = &env
	}
}

// processWorkerEnv snapshots the process environment.
func processWorkerEnv() workerEnv { return newWorkerEnv(os.Environ()) }

// sourceNames lists sources as "property=VARIABLE" in a fixed order, for logs.
func sourceNames(sources map[string]string) []string {
	out := make([]string, 0, len(sources))
	for p, v := range sources {
		out = append(out, p+"="+v)
	}
	sort.Strings(out)
	return out
}

// logConfig logs a worker's effective configuration once, with the
// variables that changed it.
func (w *workerState) logConfig(wc workerConfig) {
	timeout := "adaptive"
	if w.hasFixed.Load() {
		timeout = time.Duration(w.fixedTimeout.Load()).String()
	}
	l := w.log.WithFields(map[string]interface{}{
		"batchSize":      wc.batchSize,
		"pollInterval":   wc.pollInterval,
		"pollTimeout":    timeout,
		"domain":         wc.domain,
		"paused":         w.paused.Load(),
		"leaseExtension": !wc.noLease,
	})
	if len(wc.sources) > 0 {
		l = l.WithField("fromEnvironment", strings.Join(sourceNames(wc.sources), ","))
	}
	l.Info("worker: configuration")
}
