package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	composecli "github.com/compose-spec/compose-go/v2/cli"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsfn/natsfn/functions"
	natsfncli "github.com/natsfn/natsfn/internal/cli"
)

// subcommands are the natsfn commands an image command may start with.
func subcommands() []string {
	var names []string
	for _, c := range natsfncli.New().Commands {
		names = append(names, c.Name)
	}
	return names
}

func TestComposeFile(t *testing.T) {
	opts, err := composecli.NewProjectOptions([]string{filepath.Join("compose", "compose.yaml")},
		composecli.WithWorkingDirectory("compose"), composecli.WithInterpolation(true), composecli.WithName("natsfn"))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	svcs := project.Services
	for _, n := range []string{"nats-1", "nats-2", "nats-3"} {
		s, ok := svcs[n]
		if !ok {
			t.Fatalf("no %s", n)
		}
		if s.HealthCheck == nil || s.Restart == "" || s.Deploy == nil || s.Deploy.Resources.Limits == nil {
			t.Errorf("%s: healthcheck, restart policy and limits are required", n)
		}
		if s.Environment["NATS_SERVER_NAME"] == nil || *s.Environment["NATS_SERVER_NAME"] != n {
			t.Errorf("%s: NATS_SERVER_NAME", n)
		}
	}
	runnable := subcommands()
	for _, name := range append(functions.Names(), "gateway") {
		s, ok := svcs[name]
		if !ok {
			t.Errorf("no compose service for %s", name)
			continue
		}
		want := []string{"run", name}
		if name == "gateway" {
			want = []string{"gateway"}
			if len(s.Ports) != 1 || s.Ports[0].Published != "8080" || s.Ports[0].Target != 8080 {
				t.Errorf("gateway must publish 8080: %+v", s.Ports)
			}
		} else if len(s.Ports) > 0 {
			t.Errorf("%s publishes a port: it could not be scaled with --scale", name)
		}
		if len(s.Command) < len(want) || !slices.Equal([]string(s.Command[:len(want)]), want) || !slices.Contains(runnable, s.Command[0]) {
			t.Errorf("%s: command %v, want %v...", name, s.Command, want)
		}
		env := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		if env("NATS_USER") != name || env("NATS_PASSWORD") == "" || !strings.Contains(env("NATS_URL"), "nats-3:4222") {
			t.Errorf("%s: NATS_USER %q, NATS_URL %q", name, env("NATS_USER"), env("NATS_URL"))
		}
		if name != "gateway" && env("NATSFN_REPLICAS") != "3" {
			t.Errorf("%s: streams must be created with 3 replicas on the 3-node cluster", name)
		}
		hc := strings.Join(s.HealthCheck.Test, " ")
		if !strings.Contains(hc, "/natsfn health") || !strings.Contains(hc, "/readyz") {
			t.Errorf("%s: healthcheck %q must call /natsfn health on /readyz", name, hc)
		}
		if s.Restart == "" || s.Deploy == nil || s.Deploy.Resources.Limits == nil || !s.ReadOnly {
			t.Errorf("%s: restart policy, resource limits and a read-only root are required", name)
		}
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("%s: must build from deploy/Dockerfile", name)
		}
	}
	if s, ok := svcs["seed"]; !ok || s.Command[0] != "seed" || !slices.Contains(runnable, "seed") {
		t.Error("a seed one-shot service running `natsfn seed` is required")
	}
}

// TestNATSConfigLoads loads the compose cluster configuration into a real
// server: JetStream with fsync always, three routes, the generated users.
func TestNATSConfigLoads(t *testing.T) {
	for _, u := range []string{"ORDERS", "INVENTORY", "PAYMENT", "PAYSIM", "GATEWAY", "ADMIN"} {
		t.Setenv("NATSFN_"+u+"_PASSWORD", "x")
	}
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	opts, err := server.ProcessConfigFile(filepath.Join("compose", "nats.conf"))
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	if !opts.JetStream || !opts.SyncAlways || opts.ServerName != "nats-1" || len(opts.Routes) != 3 || len(opts.Users) != 6 {
		t.Fatalf("jetstream %v, sync always %v, name %q, routes %d, users %d", opts.JetStream, opts.SyncAlways, opts.ServerName, len(opts.Routes), len(opts.Users))
	}
	opts.StoreDir = t.TempDir()
	if _, err := server.NewServer(opts); err != nil {
		t.Fatalf("a server cannot be built from it: %v", err)
	}
}

// TestAuthConfIsCurrent: the committed users are what `natsfn nats-config`
// generates from today's functions.
func TestAuthConfIsCurrent(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join("compose", "auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "auth.conf")
	if err := natsfncli.New().Run(context.Background(), []string{"natsfn", "nats-config", "--out", out}); err != nil {
		t.Fatal(err)
	}
	fresh, _ := os.ReadFile(out)
	if string(fresh) != string(committed) {
		t.Fatal("deploy/compose/auth.conf is stale: run `natsfn nats-config --out deploy/compose/auth.conf` (task deploy-config)")
	}
}
