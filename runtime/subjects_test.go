package natsfn

import "testing"

func TestRetryDelayDoublesUpToMax(t *testing.T) {
	c := EventsConfig{}
	c.SetDefaults()
	want := []string{"1s", "2s", "4s", "8s", "16s", "32s", "1m0s", "1m0s"}
	for i, w := range want {
		if got := c.retryDelay(uint64(i + 1)).String(); got != w {
			t.Errorf("delay after delivery %d = %s, want %s", i+1, got, w)
		}
	}
}
