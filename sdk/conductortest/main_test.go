package conductortest_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	remote, err := remoteURL()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conductortest:", err)
		os.Exit(2)
	}
	if remote != "" {
		fmt.Fprintf(os.Stderr, "conductortest: black-box tests against the remote server at %s\n", remote)
	}
	goleak.VerifyTestMain(m)
}
