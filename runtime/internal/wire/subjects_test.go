package wire

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
		if got := SubjectsCollide(c.a, c.b); got != c.want {
			t.Errorf("SubjectsCollide(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := SubjectsCollide(c.b, c.a); got != c.want {
			t.Errorf("SubjectsCollide(%q, %q) = %v, want %v", c.b, c.a, got, c.want)
		}
	}
}
