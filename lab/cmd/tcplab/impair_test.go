//go:build !container

package main

import (
	"strings"
	"testing"
)

func TestParseImpair(t *testing.T) {
	for _, c := range []struct {
		args string
		want string // "" for valid
	}{
		{"app --rtt 50ms", ""},
		{"--rtt 50ms --jitter 5ms --loss 1% --rate 1mbit --for 30s app", ""},
		{"app --loss 0.01 --ports 80,443 --mechanism delayline --replace", ""},
		{"--rtt 50ms", "want one container"},
		{"a b --rtt 50ms", "want one container"},
		{"app", "nothing to do"},
		{"app --rtt fast", "invalid value"},
		{"app --rtt 50ms --jitter 60ms", "jitter 60ms is above the RTT"},
		{"app --loss 150%", "want 0 to 100 %"},
		{"app --loss lots", "want a percentage"},
		{"app --loss-out 2%", ""},
		{"app --loss-out 101%", "want 0 to 100 %"},
		{"app --rate 1mbps", "want a rate"},
		{"app --rate 100bit", "rate 100 bit/s"},
		{"app --rtt 1ms --ports 80,x", `"x" is not a port`},
		{"app --rtt 1ms --mechanism tc", `mechanism "tc"`},
		{"app --rtt 1ms --for -1s", "--for -1s"},
	} {
		_, err := parseImpair(strings.Fields(c.args))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("impair %s: got %v, want %q", c.args, err, c.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	for s, want := range map[string]int64{"1mbit": 1e6, "500kbit": 5e5, "1.5Mbit": 15e5, "1gbit": 1e9, "64000bit": 64000} {
		if got, err := parseRate(s); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
}
