package natsfn

import "testing"

func TestSubjectsCollide(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"orders.>", "orders.create", true},
		{"orders.created.>", "orders.create", false},
		{"orders.*", "orders.create", true},
		{"orders.*", "orders.create.now", false},
		{"orders.*.v1", "orders.created.v1", true},
		{"a.b", "a.b", true},
		{"a.b", "a.c", false},
		{">", "anything.at.all", true},
		{"a.b.c", "a.b", false},
	}
	for _, c := range cases {
		if got := subjectsCollide(c.a, c.b); got != c.want {
			t.Errorf("subjectsCollide(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := subjectsCollide(c.b, c.a); got != c.want {
			t.Errorf("subjectsCollide(%q, %q) = %v, want %v", c.b, c.a, got, c.want)
		}
	}
}

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
