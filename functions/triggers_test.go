package functions_test

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/internal/testkit"
)

// The demo's key-value watch warns when a product runs low, and its
// schedule reports the stock once per tick.
func TestLowStockWarningAndStockReport(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Inventory: inventory.Config{LowStock: 8, Report: "@every 1s"}})
	// Stock is 10 a product: taking 3 leaves 7, below 8.
	s.Settle(s.PlaceOrder("tok_visa", sagatest.Item("sku-2", 3)))
	testkit.Eventually(t, 15*time.Second, "a low-stock warning for sku-2 and two stock reports", func() bool {
		var warned bool
		reports := 0
		for _, l := range s.Logs.JSONLines() {
			switch l["message"] {
			case "low stock":
				if l["product_id"] == "sku-2" && l["available"] == float64(7) && l["level"] == "warn" {
					warned = true
				}
				if l["product_id"] != "sku-2" {
					t.Errorf("a warning for a product with enough stock: %v", l)
				}
			case "stock report":
				if l["products"] == float64(len(s.Initial)) {
					reports++
				}
			}
		}
		return warned && reports >= 2
	})
}
