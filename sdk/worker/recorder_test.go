package worker

import (
	"os/exec"
	"strings"
	"testing"
)

// A worker binary that exports no metrics must not link client_golang: the
// Prometheus recorder is sdk/metrics' business.
func TestWorkerDoesNotDependOnPrometheus(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "prometheus") || strings.HasSuffix(dep, "/sdk/metrics") {
			t.Errorf("sdk/worker depends on %s", dep)
		}
	}
}

// Without sdk/metrics in the program, a runner without WithMetrics records
// nothing (and does not fail).
func TestDefaultRecorderWithoutMetricsPackage(t *testing.T) {
	r := newRunner(newFake(), WithLogger(quietLogger()))
	if _, ok := r.rec.(NopRecorder); !ok {
		t.Fatalf("default recorder is %T, want NopRecorder (sdk/metrics is not linked into this test)", r.rec)
	}
}
