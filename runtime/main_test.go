package natsfn_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	natsfn "github.com/natsfn/natsfn/runtime"
)

// TestMain doubles as a replica process: tests start the test binary again
// with NATSFN_TEST_REPLICA set, and kill it (SIGKILL, no cleanup) at a crash
// point to prove what survives a real crash.
func TestMain(m *testing.M) {
	if os.Getenv("NATSFN_TEST_REPLICA") != "" {
		os.Exit(runReplica())
	}
	os.Exit(m.Run())
}

// runReplica serves the inventory service against NATSFN_TEST_URL and kills
// itself at NATSFN_TEST_CRASH_AT.
func runReplica() int {
	crashAt := os.Getenv("NATSFN_TEST_CRASH_AT")
	natsfn.SetCrashPoint(func(point string) {
		if point == crashAt {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	})
	l := zerolog.New(os.Stderr).With().Str("replica", "subprocess").Logger()
	cfg := replicaConfig()
	cfg.URL, cfg.Logger = os.Getenv("NATSFN_TEST_URL"), &l
	if n, err := strconv.Atoi(os.Getenv("NATSFN_TEST_MAX_DELIVER")); err == nil && n > 0 {
		cfg.Events.MaxDeliver = n
	}
	inv := newInventory()
	rt, err := natsfn.New(cfg, inv.service("1.0.0", "orders.created.v1"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() { <-rt.Started(); fmt.Println("ready") }()
	if err := rt.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// replicaConfig is the event configuration shared by the test runtimes and
// the replica processes: short waits, so crashes are noticed quickly.
func replicaConfig() natsfn.Config {
	return natsfn.Config{Events: natsfn.EventsConfig{
		AckWait: time.Second, MaxDeliver: 3, RetryMin: 100 * time.Millisecond, RetryMax: time.Second,
	}}
}

// replica is a replica process started by a test.
type replica struct {
	cmd    *exec.Cmd
	exited chan error
}

// startReplica runs the test binary as a replica and waits until it serves.
func startReplica(t *testing.T, url, crashAt string, maxDeliver int) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NATSFN_TEST_REPLICA=1", "NATSFN_TEST_URL="+url,
		"NATSFN_TEST_CRASH_AT="+crashAt, fmt.Sprintf("NATSFN_TEST_MAX_DELIVER=%d", maxDeliver))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, exited: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				close(ready)
			}
		}
		r.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-ready:
	case err := <-r.exited:
		t.Fatalf("replica exited before serving: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("replica did not start")
	}
	return r
}

// waitKilled waits until the replica died of SIGKILL.
func (r *replica) waitKilled(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.exited:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("replica ended with %v, want killed by SIGKILL at its crash point", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("replica was not killed at its crash point")
	}
}
