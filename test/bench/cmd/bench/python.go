package main

// The official Python SDK as a contender (real-server mode): the driver
// installs the pinned conductor-python release into a virtual environment of
// its own (once; it is kept in the user's cache) and runs
// test/bench/python/worker.py with that environment's interpreter.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// pythonSDK is the conductor-python release measured.
const pythonSDK = "conductor-python==2.0.0"

// contPython is the official Python SDK's contender name.
const contPython = "python"

// pythonEnv is a ready virtual environment.
type pythonEnv struct {
	python string // the environment's interpreter
	script string // test/bench/python/worker.py
	sdk    string // the installed release, e.g. "conductor-python 2.0.0"
}

// pythonVenvDir is where the environment lives: outside the checkout.
func pythonVenvDir() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "baton", "bench-python", strings.ReplaceAll(pythonSDK, "==", "-"))
}

// pythonWorkerScript finds test/bench/python/worker.py: beside the working
// folder (make runs the driver in test/bench), or beside this source file.
func pythonWorkerScript() (string, error) {
	cands := []string{"python/worker.py"}
	if _, file, _, ok := runtime.Caller(0); ok {
		cands = append(cands, filepath.Join(filepath.Dir(file), "..", "..", "python", "worker.py"))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return filepath.Abs(c)
		}
	}
	return "", fmt.Errorf("python/worker.py not found (run the driver from test/bench)")
}

// ensurePython creates the virtual environment with the pinned SDK when it
// is missing, and checks that it imports. base is the interpreter that
// creates it ("" = python3 on PATH).
func ensurePython(base string, logf func(string, ...interface{})) (pythonEnv, error) {
	script, err := pythonWorkerScript()
	if err != nil {
		return pythonEnv{}, err
	}
	dir := pythonVenvDir()
	py := filepath.Join(dir, "bin", "python")
	check := func() (string, error) {
		out, err := exec.Command(py, "-c",
			"import importlib.metadata as m, conductor.client.automator.task_handler; print(m.version('conductor-python'))").CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	want := strings.SplitN(pythonSDK, "==", 2)[1]
	if v, err := check(); err == nil && v == want {
		return pythonEnv{python: py, script: script, sdk: "conductor-python " + v}, nil
	}
	if base == "" {
		if base, err = exec.LookPath("python3"); err != nil {
			return pythonEnv{}, fmt.Errorf("python3 not found: %w", err)
		}
	}
	logf("python: creating %s with %s (%s)", dir, pythonSDK, base)
	_ = os.RemoveAll(dir)
	if out, err := exec.Command(base, "-m", "venv", dir).CombinedOutput(); err != nil {
		return pythonEnv{}, fmt.Errorf("python3 -m venv %s: %w: %s (Debian: apt-get install python3-venv)", dir, err, out)
	}
	pip := exec.Command(py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", pythonSDK)
	if out, err := pip.CombinedOutput(); err != nil {
		return pythonEnv{}, fmt.Errorf("pip install %s: %w: %s", pythonSDK, err, out)
	}
	v, err := check()
	if err != nil || v != want {
		return pythonEnv{}, fmt.Errorf("the new environment does not import %s: %v %s", pythonSDK, err, v)
	}
	return pythonEnv{python: py, script: script, sdk: "conductor-python " + v}, nil
}

// pythonArgs is the worker program's command line for o.
func (e pythonEnv) args(o spawnOpts) []string {
	args := []string{"-u", e.script, "--url", o.url, "--types", strings.Join(o.types, ","),
		"--batch", fmt.Sprint(o.batch), "--interval-ms", fmt.Sprint(float64(o.interval.Microseconds()) / 1e3),
		"--sleep-ms", fmt.Sprint(float64(o.sleep.Microseconds()) / 1e3)}
	if o.pickup {
		args = append(args, "--pickup")
	}
	return args
}
