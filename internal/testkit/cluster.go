package testkit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A Cluster is three NATS servers with JetStream, each in its own process
// (the test binary started again), so a node can be killed hard, SIGKILL
// with no goodbye, and started again on the same ports and store.
type Cluster struct {
	t     testing.TB
	nodes []*node
}

type node struct {
	spec nodeSpec
	cmd  *exec.Cmd
	done chan struct{}
}

type nodeSpec struct {
	Name        string   `json:"name"`
	Port        int      `json:"port"`
	ClusterPort int      `json:"cluster_port"`
	Routes      []string `json:"routes"`
	StoreDir    string   `json:"store_dir"`
}

const nodeEnv = "NATSFN_TEST_NATS_NODE"

// RunNodeIfAsked makes a test binary serve as a cluster node when started
// by StartCluster; call it first thing in TestMain.
func RunNodeIfAsked() {
	spec := os.Getenv(nodeEnv)
	if spec == "" {
		return
	}
	var s nodeSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var routes []string
	for _, r := range s.Routes {
		routes = append(routes, r)
	}
	opts := &server.Options{
		ServerName: s.Name, Host: "127.0.0.1", Port: s.Port, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: s.StoreDir,
	}
	if len(routes) > 0 {
		opts.Cluster = server.ClusterOpts{Name: "natsfn-test", Host: "127.0.0.1", Port: s.ClusterPort}
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go srv.Start()
	if !srv.ReadyForConnections(20 * time.Second) {
		fmt.Fprintln(os.Stderr, "node not ready")
		os.Exit(2)
	}
	fmt.Println("ready")
	select {} // until killed
}

// StartCluster starts three nodes and waits until each accepts clients.
func StartCluster(t testing.TB) *Cluster { return StartNodes(t, 3) }

// StartNodes starts n nodes (1: a standalone server; more: a cluster).
func StartNodes(t testing.TB, n int) *Cluster {
	t.Helper()
	c := NewNodes(t, n)
	for i := range c.nodes {
		c.Start(i)
	}
	return c
}

// NewNodes picks ports and stores for n nodes without starting any, for
// tests of what happens before NATS is there; Start brings each up. Every
// node still running is killed when the test ends.
func NewNodes(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	var routes []string
	for i := range n {
		if n > 1 {
			routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
		}
	}
	c := &Cluster{t: t}
	for i := range n {
		c.nodes = append(c.nodes, &node{spec: nodeSpec{
			Name: fmt.Sprintf("n%d", i+1), Port: ports[i], ClusterPort: ports[n+i],
			Routes: routes, StoreDir: filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1)),
		}})
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Kill(i)
		}
	})
	return c
}

// URL lists every node, for clients that fail over.
func (c *Cluster) URL() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.spec.Port))
	}
	return strings.Join(urls, ",")
}

// Start runs node i (again) on its ports and store.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	n := c.nodes[i]
	spec, _ := json.Marshal(n.spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(spec))
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(n.done)
	}()
	select {
	case <-ready:
	case <-n.done:
		c.t.Fatalf("node %s exited before it was ready", n.spec.Name)
	case <-time.After(30 * time.Second):
		c.t.Fatalf("node %s not ready in 30s", n.spec.Name)
	}
}

// Kill ends node i with SIGKILL and waits until it is gone.
func (c *Cluster) Kill(i int) {
	n := c.nodes[i]
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
	n.cmd = nil
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int { return freePorts(t, 1)[0] }

// WaitJetStream connects to url as a client that reconnects quickly and
// waits until JetStream answers (a fresh cluster elects its meta leader
// first); the connection closes when the test ends.
func WaitJetStream(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, 30*time.Second, "JetStream answers", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return nc, js
}
