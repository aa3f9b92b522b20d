// Command sigtermworker is the child process of the fault suite's SIGTERM
// scenario: a TaskRunner wired the way the README tells users to, with
// signal.NotifyContext and Shutdown(grace).
//
// It runs -batch handlers at once; each waits until all of them are running,
// prints READY once, then works for -work before returning. On SIGTERM it
// shuts the runner down with a -grace deadline, waits for the workers, closes
// idle connections and checks itself with goleak before exiting. Exit codes:
// 0 clean, 1 bad usage or setup, 2 Shutdown reported undrained tasks, 3
// goroutines leaked, 4 the signal came before every handler was running.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/baton-go/baton/sdk/client"
	"github.com/baton-go/baton/sdk/model"
	"github.com/baton-go/baton/sdk/settings"
	"github.com/baton-go/baton/sdk/worker"
)

func main() {
	os.Exit(run())
}

func run() int {
	url := flag.String("url", "", "server API URL")
	taskType := flag.String("task", "sigterm_task", "task type to work on")
	batch := flag.Int("batch", 500, "execution slots; READY is printed once this many handlers run")
	work := flag.Duration("work", time.Second, "how long each handler works once all are running")
	grace := flag.Duration("grace", 10*time.Second, "shutdown deadline")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "sigtermworker: -url is required")
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.WarnLevel)
	api, err := client.New(nil, settings.NewHttpSettings(*url), client.WithLogger(log))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigtermworker:", err)
		return 1
	}
	r := worker.NewTaskRunnerWithApiClient(api, worker.WithLogger(log))

	var running atomic.Int64
	allRunning := make(chan struct{})
	var once sync.Once
	handler := func(hctx context.Context, t *model.Task) (interface{}, error) {
		if running.Add(1) == int64(*batch) {
			once.Do(func() { close(allRunning) })
		}
		select {
		case <-allRunning:
		case <-hctx.Done():
			return nil, context.Cause(hctx)
		}
		select {
		case <-time.After(*work):
		case <-hctx.Done():
			return nil, context.Cause(hctx)
		}
		return map[string]interface{}{"k": t.InputData["k"], "by": "sigtermworker"}, nil
	}
	if err := r.Start(*taskType, handler, worker.BatchSize(*batch)); err != nil {
		fmt.Fprintln(os.Stderr, "sigtermworker:", err)
		return 1
	}

	select {
	case <-allRunning:
		fmt.Println("READY")
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "sigtermworker: signalled before every handler was running")
		_ = r.Shutdown(context.Background())
		return 4
	}
	<-ctx.Done()
	signalled := time.Now()
	stop()

	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	err = r.Shutdown(sctx)
	cancel()
	r.WaitWorkers()
	api.CloseIdleConnections()
	fmt.Printf("DRAINED %d\n", time.Since(signalled).Milliseconds())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigtermworker: shutdown:", err)
		return 2
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "sigtermworker: goroutines left:", err)
		return 3
	}
	return 0
}
