package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/natsfn/natsfn/functions/paysim"
	"github.com/natsfn/natsfn/internal/load"
	"github.com/natsfn/natsfn/internal/sagatest"
)

// The wait for accepted orders lasts while they keep settling, and ends
// when they stop: a backlog that drains for longer than Settle is waited
// for, a saga that settles nothing is given up on after Settle.
func TestSettleWaitsForABacklogAndGivesUpOnAStall(t *testing.T) {
	const orders, settle = 8, 2 * time.Second
	for _, tc := range []struct {
		name      string
		opts      sagatest.Options
		unsettled int
	}{
		// One charge at a time, 500 ms each: the last order settles about
		// 4 s after the first, twice Settle, each 500 ms after the one before.
		{"backlog", sagatest.Options{Stock: 100, Concurrency: 1, Sim: paysim.Config{Latency: 500 * time.Millisecond}}, 0},
		// No payment service: every order stays pending (until its deadline,
		// minutes away).
		{"stall", sagatest.Options{Stock: 100, Services: []string{"orders", "inventory", "paysim"}}, orders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sagatest.Start(t, tc.opts)
			start := time.Now()
			rep, err := load.Run(context.Background(), load.Config{Client: load.NewHTTP(s.URL, 4), Concurrency: 4,
				Orders: orders, DeclineRatio: 0, FlakyRatio: 0, Settle: settle, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Accepted) != orders || rep.Unsettled != tc.unsettled {
				t.Fatalf("accepted %d, unsettled %d after %s; want %d accepted, %d unsettled",
					len(rep.Accepted), rep.Unsettled, time.Since(start).Round(time.Millisecond), orders, tc.unsettled)
			}
			if tc.unsettled == 0 && rep.SettleTime < settle {
				t.Fatalf("settled in %s: the backlog was not longer than Settle, the test proves nothing", rep.SettleTime)
			}
		})
	}
}
