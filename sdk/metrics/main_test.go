package metrics

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind (the metrics
// server owns goroutines that must stop with their context).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
