package deploy

import (
	"os"
	"testing"

	"github.com/natsfn/natsfn/internal/testkit"
)

// TestMain lets the test binary serve as a NATS node of the cluster test.
func TestMain(m *testing.M) {
	testkit.RunNodeIfAsked()
	os.Exit(m.Run())
}
