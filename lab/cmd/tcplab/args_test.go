//go:build !container

package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Each command's arguments are checked without running it, as the command
// checks them: the docs test relies on these checks saying no.
func TestArgChecks(t *testing.T) {
	for _, tc := range []struct {
		args    string
		wantErr string // "" when the arguments are good
	}{
		{"list", ""},
		{"list extra", "takes no arguments"},
		{"serve backlog-full -lifetime 1m server.somaxconn=8", ""},
		{"serve", "which scenario?"},
		{"serve backlog-full -bogus", "-bogus"},
		{"client dial-refused -server s -out /r/x.json -quiet -gate", ""},
		{"client dial-refused client.dials", `"client.dials" is not KNOB=VALUE`},
		{"client no-such", `unknown scenario "no-such"`},
		{"agent -pcap /x.pcap -lifetime 1h", ""},
		{"agent extra", "takes no arguments"},
		{"report -dir /results 01-a.json", ""},
		{"report a b --out merged --strict", ""},
		{"report a --bogus", "-bogus"},
		{"compose -pre-6.5", ""},
		{"compose pre-6.5", `unknown scenario "pre-6.5"`},
		{"compose -pre-6.5 dial-refused read-partial", ""},
		{"run backlog-full --vary server.somaxconn=16,128 --count 3 --out r --pcap", ""},
		{"run backlog-full --set server.nope=1", `has no knob "server.nope"`},
		// A knob of another scenario is no knob of this one.
		{"run dial-refused --set client.readers=3", `scenario dial-refused has no knob "client.readers"`},
		{"client dial-refused -server s client.readers=3", `scenario dial-refused has no knob "client.readers"`},
		{"run read-partial --set impair.rtt=-5ms", "out of range [0s, 1m0s]"},
		{"run --kernel 4.0", "unknown kernel"},
		{"clean --all", ""},
		{"sidecar serve", ""},
		{"sidecar serve -rtt 50ms -jitter 5ms -loss 1% -rate 1mbit -ports 80,443", ""},
		{"sidecar serve -rtt 10ms -jitter 20ms", "-jitter 20ms: want 0 to the RTT (10ms)"},
		{"sidecar serve -rtt 2m", "-rtt 2m0s: want 0 to 1m"},
		{"sidecar serve -loss 150%", `-loss "150%": want 0 to 100 %`},
		{"sidecar serve -rate fast", `-rate "fast"`},
		{"sidecar serve -ports 80,x", `"x" is not a port`},
		{"sidecar serve -mechanism tc", `-mechanism "tc"`},
		{"sidecar serve -mechanism netem -ports 80", "netem delays all of eth0"},
		{"sidecar serve -rtt 5ms -peers 172.18.0.3,172.18.0.4", ""},
		{"sidecar serve -rtt 5ms -peers fd00::1", "not an IPv4 address"},
		{"sidecar serve -rtt 5ms -rate 1mbit -peers 172.18.0.3", "cannot select peers"},
		{"impair app --rtt 5ms --peers 172.18.0.3", ""},
		{"impair app --rtt 5ms --peers nope", `"nope" is not an IPv4 address`},
		{"impair app --rtt 5ms --ports 80,0", `"0" is not a port`},
		{`sidecar serve -spec {"all_tcp":true,"delay":50000000}`, ""},
		{`sidecar serve -spec {"delay":"50ms"}`, "-spec: json"},
		{`sidecar serve -rtt 5ms -spec {}`, "-spec is the whole impairment: give it alone"},
		{"sidecar call counters", ""},
		{"reach -listen :7099 -mechanisms", ""},
		{"reach -dial reach:7099 -mechanisms", "usage: tcplab reach"},
		{"reach", "usage: tcplab reach"},
		{"clean now", "takes no arguments"},
	} {
		args := strings.Fields(tc.args)
		err := argChecks[args[0]](args[1:])
		if tc.wantErr == "" {
			assert.NoError(t, err, tc.args)
		} else if assert.Error(t, err, tc.args) {
			assert.Contains(t, err.Error(), tc.wantErr, tc.args)
		}
	}
}
