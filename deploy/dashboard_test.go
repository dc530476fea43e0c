package deploy

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/internal/testkit"
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

	// The saga as natsfn local runs it: the gateway exports into the
	// runtime's metrics.
	s := sagatest.Start(t, sagatest.Options{Quiet: true})
	resp, err := http.Post(s.URL+"/orders", "application/json", strings.NewReader(`{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var exported string
	testkit.Eventually(t, 10*time.Second, "the saga ran far enough to export its metrics", func() bool {
		var sb strings.Builder
		s.Runtime.Metrics().WritePrometheus(&sb)
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
