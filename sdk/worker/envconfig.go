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
	if d < pollIntervalMin {
		return fmt.Errorf("must be at least %v", pollIntervalMin)
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

// sameEnvValue tells whether two spellings say the same: both are parsed
// as the property would be ("250" and "250ms" are the same poll interval,
// "true" and "YES" the same flag), and the results compared; a value that
// does not parse is compared as text (apply reports it).
func sameEnvValue(prop *envProperty, a, b string) bool {
	var ca, cb workerConfig
	if prop.apply(&ca, a) == nil && prop.apply(&cb, b) == nil {
		return ca.batchSize == cb.batchSize && ca.pollInterval == cb.pollInterval && ca.pollTimeout == cb.pollTimeout &&
			ca.pollTimeoutS == cb.pollTimeoutS && ca.domain == cb.domain && ca.paused == cb.paused && ca.noLease == cb.noLease
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if prop.name == "domain" {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// clash returns an error when taskName and one of the running workers'
// task types map to the same upper-case variables (a-b, a.b and a_b are
// all CONDUCTOR_WORKER_A_B_*) and the environment sets such a variable: an
// operator could not tell which worker it reaches. Variables with a task
// name spelled exactly (conductor.worker.a-b.paused) stay unambiguous.
func (e workerEnv) clash(taskName string, others []string) error {
	upper := upperTaskName(taskName)
	var set []string
	for k := range e.vars {
		if strings.HasPrefix(k, envUpperPrefix+upper+"_") {
			set = append(set, k)
		}
	}
	if len(set) == 0 {
		return nil
	}
	sort.Strings(set)
	for _, o := range others {
		if o != taskName && upperTaskName(o) == upper {
			return fmt.Errorf("worker: task types %q and %q both map to the environment variables %s%s_* (set: %s), so they cannot be told apart; use the dotted form with the exact task name (conductor.worker.%s.<property>) or rename one",
				o, taskName, envUpperPrefix, upper, strings.Join(set, ", "), taskName)
		}
	}
	return nil
}

// strayTaskVariables lists the task-specific variables that reach no
// worker in tasks (the task types started so far) but look meant for one:
// a property name that is not one Baton knows, after a started worker's
// name; or a known property after a name close to a started worker's (a
// typo). Each comes with a hint naming the closest worker or property. A
// variable naming a task type far from every started one is taken for a
// worker not started yet and not reported; one for a worker started later
// whose name is close to an earlier one's is reported all the same (a
// warning, never an error).
func (e workerEnv) strayTaskVariables(tasks []string) map[string]string {
	out := map[string]string{}
	props := envProperties()
	for k := range e.vars {
		var scope, prop string
		upper := false
		switch {
		case strings.HasPrefix(k, envDottedPrefix):
			rest := strings.TrimPrefix(k, envDottedPrefix)
			i := strings.LastIndexByte(rest, '.')
			if i <= 0 {
				continue
			}
			scope, prop = rest[:i], rest[i+1:]
			if scope == "all" {
				continue
			}
		case strings.HasPrefix(k, envUpperPrefix) && !strings.HasPrefix(k, envUpperPrefix+"ALL_"):
			upper = true
			scope = strings.TrimPrefix(k, envUpperPrefix)
		default:
			continue
		}
		if hint, stray := strayVariable(scope, prop, upper, tasks, props); stray {
			out[k] = hint
		}
	}
	return out
}

// strayVariable judges one task variable: scope and prop as split from a
// dotted name, or (upper) scope holding TASK_PROP still joined.
func strayVariable(scope, prop string, upper bool, tasks []string, props []envProperty) (string, bool) {
	var spellings []string
	for _, p := range props {
		for _, sp := range p.spellings {
			if upper {
				spellings = append(spellings, upperEnvName(sp))
			} else {
				spellings = append(spellings, sp)
			}
		}
	}
	taskForm := func(t string) []string {
		if upper {
			return []string{upperTaskName(t), t}
		}
		return []string{t}
	}
	// A known property: is the task part a started worker, or close to one?
	for _, sp := range spellings {
		task := scope
		if upper {
			if !strings.HasSuffix(scope, "_"+sp) {
				continue
			}
			task = strings.TrimSuffix(scope, "_"+sp)
		} else if prop != sp {
			continue
		}
		best, bestD := "", -1
		for _, t := range tasks {
			for _, f := range taskForm(t) {
				if f == task {
					return "", false
				}
				if d := editDistance(f, task); bestD < 0 || d < bestD {
					best, bestD = t, d
				}
			}
		}
		if bestD >= 0 && bestD <= max(2, len(task)/4) {
			return fmt.Sprintf("no worker has the task type this names; did you mean %q?", best), true
		}
		return "", false // perhaps a worker not started yet
	}
	// An unknown property after a started worker's name.
	for _, t := range tasks {
		for _, f := range taskForm(t) {
			p := prop
			if upper {
				if !strings.HasPrefix(scope, f+"_") {
					continue
				}
				p = strings.TrimPrefix(scope, f+"_")
			} else if scope != f {
				continue
			}
			best, bestD := "", -1
			for _, sp := range spellings {
				if d := editDistance(sp, p); bestD < 0 || d < bestD {
					best, bestD = sp, d
				}
			}
			return fmt.Sprintf("worker %q has no property %q; did you mean %q?", t, p, best), true
		}
	}
	return "", false
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
	set := w.current()
	if set.timeout.fixed {
		timeout = set.timeout.d.String()
	}
	l := w.log.WithFields(map[string]interface{}{
		"batchSize":      wc.batchSize,
		"pollInterval":   wc.pollInterval,
		"pollTimeout":    timeout,
		"domain":         wc.domain,
		"paused":         set.paused,
		"leaseExtension": !wc.noLease,
	})
	if len(wc.sources) > 0 {
		l = l.WithField("fromEnvironment", strings.Join(sourceNames(wc.sources), ","))
	}
	l.Info("worker: configuration")
}
