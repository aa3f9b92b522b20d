package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestSIGTERMExitsZero builds the program, starts it on a free port, checks
// /health, sends SIGTERM and expects exit status 0.
func TestSIGTERMExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "conductor-dev")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-log-level", "debug", "-auth-key", "k", "-auth-secret", "s",
		"-long-poll", "hold", "-max-concurrent-requests", "200", "-conductor-version", "3.21.14")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	urlRe := regexp.MustCompile(`url="?(http://127\.0\.0\.1:\d+)/api`)
	var base string
	for base == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("program exited before listening")
			}
			if m := urlRe.FindStringSubmatch(l); m != nil {
				base = m[1]
			}
		case <-ctx.Done():
			t.Fatal("no listening line")
		}
	}
	res, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("health %d", res.StatusCode)
	}
	// Auth is on: a poll without token is refused.
	res, err = http.Get(base + "/api/tasks/poll/batch/x?timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("poll without token: %d", res.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var logged []string
	for l := range lines {
		logged = append(logged, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	all := strings.Join(logged, "\n")
	if !strings.Contains(all, "path=/api/tasks/poll/batch/x") {
		t.Fatalf("no debug line for the request in:\n%s", all)
	}
	if strings.Contains(all, `"s"`) || strings.Contains(all, "secret=s") {
		t.Fatalf("secret in logs:\n%s", all)
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the message
	}{
		{[]string{"-log-level", "loud"}, "loud"},
		{[]string{"-auth-key", "only-key"}, "-auth-secret"},
		{[]string{"-token-ttl", "0s"}, "0s"},
		{[]string{"-long-poll", "eager"}, `-long-poll: long-poll mode "eager"`},
		{[]string{"-conductor-version", "4.0"}, `-conductor-version: conductor version "4.0"`},
		{[]string{"-max-concurrent-requests", "-1"}, "-max-concurrent-requests must be >= 0 (0: unbounded), got -1"},
		{[]string{"-payload-store", "s4"}, `-payload-store: payload store "s4"`},
		{[]string{"-payload-store", "postgres", "-payload-task-threshold-kb", "-1"}, "must be >= 0"},
		{[]string{"extra"}, "extra"},
	} {
		var sb strings.Builder
		if code := run(tc.args, &sb); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(sb.String(), tc.want) {
			t.Errorf("%v: message %q does not name %q", tc.args, sb.String(), tc.want)
		}
	}
}

// TestHelpExitsZero: asking for help is not a mistake. -h and -help print the
// flags and exit 0, and the text does not claim that Conductor requires
// ownerEmail by default (3.32, the default profile, does not).
func TestHelpExitsZero(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var sb strings.Builder
		if code := run([]string{arg}, &sb); code != 0 {
			t.Errorf("%s: exit %d, want 0\n%s", arg, code, sb.String())
		}
		out := sb.String()
		if !strings.Contains(out, "-owner-email-optional") || !strings.Contains(out, "-addr") {
			t.Errorf("%s: the flags are not listed:\n%s", arg, out)
		}
		if strings.Contains(out, "requires it by default") {
			t.Errorf("%s: the help still says the real server requires ownerEmail by default:\n%s", arg, out)
		}
	}
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
