package deploy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
)

// TestDashboardQueriesExportedMetrics runs the saga, scrapes what the
// runtime and the gateway export, and checks that every metric the Grafana
// dashboard queries exists.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("grafana", "natsfn-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}

	srv := testkit.StartNATS(t)
	log := zerolog.Nop()
	all := testkit.Must(functions.All(functions.Config{}))
	var svcs []natsfn.Service
	for _, n := range functions.Names() {
		svcs = append(svcs, all[n])
	}
	rt, err := natsfn.New(natsfn.Config{URL: srv.ClientURL(), Logger: &log}, svcs...)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Serve(t, rt)
	js, _ := jetstream.New(rt.Conn())
	if _, err := inventory.Seed(context.Background(), js, inventory.DemoCatalog(10)); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Config{Metrics: rt.Metrics()}, rt.Conn(), functions.Routes())
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(g.Handler())
	defer api.Close()
	resp, err := http.Post(api.URL+"/orders", "application/json", strings.NewReader(`{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var exported string
	testkit.Eventually(t, 10*time.Second, "the saga ran far enough to export its metrics", func() bool {
		var sb strings.Builder
		rt.Metrics().WritePrometheus(&sb)
		exported = sb.String()
		return strings.Contains(exported, `function="commit",outcome="ok"`)
	})
	names := regexp.MustCompile(`\b(natsfn_[a-z_]+)`)
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, m := range names.FindAllStringSubmatch(target.Expr, -1) {
				if !strings.Contains(exported, m[1]+"{") && !strings.Contains(exported, m[1]+" ") {
					t.Errorf("panel %q queries %s, which nothing exports", p.Title, m[1])
				}
			}
		}
	}
}
