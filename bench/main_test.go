package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/functions"
	natsfn "github.com/natsfn/natsfn/runtime"
)

// TestMain doubles as a replica process: `natsfn run <service>` in a test
// binary, so benchmarks can scale a function over real processes.
func TestMain(m *testing.M) {
	if svc := os.Getenv("NATSFN_BENCH_REPLICA"); svc != "" {
		os.Exit(runReplica(svc))
	}
	os.Exit(m.Run())
}

func runReplica(svc string) int {
	log := zerolog.Nop()
	var conc int
	fmt.Sscan(os.Getenv("NATSFN_BENCH_CONCURRENCY"), &conc)
	rt, err := natsfn.New(natsfn.Config{URL: os.Getenv("NATSFN_BENCH_URL"), Logger: &log, Concurrency: conc,
		Events: natsfn.EventsConfig{MaxAckPending: 10000}}, svcOf(svc))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() { <-rt.Started(); fmt.Println("ready") }()
	if err := rt.Run(context.Background()); err != nil {
		return 1
	}
	return 0
}

// replicaProcess runs one replica of svc until the benchmark ends and
// returns its pid.
func replicaProcess(tb testing.TB, url, svc string, concurrency int) int {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NATSFN_BENCH_REPLICA="+svc, "NATSFN_BENCH_URL="+url, fmt.Sprintf("NATSFN_BENCH_CONCURRENCY=%d", concurrency))
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		tb.Fatal("replica did not start")
	}
	return cmd.Process.Pid
}

// svcOf is the saga's service named svc (empty if the config is refused).
func svcOf(name string) natsfn.Service {
	all, err := functions.All(functions.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return all[name]
}
