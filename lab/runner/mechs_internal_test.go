package runner

import "testing"

// A run's mechanisms: the network's and the driver's, once each, sorted.
func TestMechs(t *testing.T) {
	m := mechs{}
	if got := m.String(); got != "none" {
		t.Errorf("empty: %q, want none", got)
	}
	m.add("nftables", "delayline")
	m.add("delayline")
	if got := m.String(); got != "delayline+nftables" {
		t.Errorf("%q, want delayline+nftables", got)
	}
}
