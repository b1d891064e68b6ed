package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/scenario"
)

// TestExplainKernels: three kernels' backlog-syn-timeout side by side. The
// linear timeouts read as each kernel had them (absent, 4, pinned 0), the
// SYN schedule follows them, the counted retransmissions are shown where
// a VM counted them, the package each VM booted is named, and the note
// names the figures that agreed.
func TestExplainKernels(t *testing.T) {
	type kernel struct {
		label, release, pkg string
		obs                 map[string]any
		sysctls             map[string]map[string]string
		counters            map[string]map[string]int64
	}
	for _, tc := range []struct {
		name    string
		kernels []kernel
		linear  []string
		sched   []string
		counted []string
		pkgs    []string // the kernel package fact's cells; nil: no such fact
		flagged bool
	}{
		{"three kernels", []kernel{
			{"6.1", "6.1.0-56-cloud-amd64", "linux-image-6.1.0-56-cloud-amd64-unsigned=6.1.192-2", map[string]any{"tcp_syn_retries": 2, "failed_after_ms": 7090, "expected_ms": 7000, "tcp_syn_linear_timeouts_absent": true},
				map[string]map[string]string{"client": {"net.ipv4.tcp_syn_retries": "2"}}, map[string]map[string]int64{"client": {"TcpExt.TCPSynRetrans": 2}}},
			{"6.12", "6.12.117+deb12-cloud-amd64", "linux-image-6.12.117+deb12-cloud-amd64-unsigned=6.12.117-1~deb12u1", map[string]any{"tcp_syn_retries": 2, "failed_after_ms": 7160, "expected_ms": 7000, "tcp_syn_linear_timeouts": 4},
				map[string]map[string]string{"client": {"net.ipv4.tcp_syn_linear_timeouts": "4"}}, map[string]map[string]int64{"client": {"TcpExt.TCPSynRetrans": 5}}},
			{"host", "6.18.44", "", map[string]any{"tcp_syn_retries": 2, "failed_after_ms": 7100, "expected_ms": 7000}, nil, nil},
		}, []string{"absent", "4", "0"}, []string{"3 SYNs at 0, 1, 3 s, gives up at 7s", "6 SYNs at 0, 1, 2, 3, 4, 5 s, gives up at 7s", "3 SYNs at 0, 1, 3 s, gives up at 7s"},
			[]string{"2", "5", "not counted (containers)"},
			[]string{"linux-image-6.1.0-56-cloud-amd64-unsigned=6.1.192-2", "linux-image-6.12.117+deb12-cloud-amd64-unsigned=6.12.117-1~deb12u1", "—"}, true},
		{"one schedule", []kernel{
			{"6.1", "6.1.0-56-cloud-amd64", "", map[string]any{"tcp_syn_retries": 1, "failed_after_ms": 3040, "expected_ms": 3000, "tcp_syn_linear_timeouts_absent": true}, nil, nil},
			{"host", "6.18.44", "", map[string]any{"tcp_syn_retries": 1, "failed_after_ms": 3040, "expected_ms": 3000}, nil, nil},
		}, []string{"absent", "0"}, []string{"2 SYNs at 0, 1 s, gives up at 3s", "2 SYNs at 0, 1 s, gives up at 3s"}, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sets []*Set
			for _, k := range tc.kernels {
				raw := resultJSON("backlog-syn-timeout", "linux/amd64", `{"client.tcp_syn_retries":"2"}`, obsJSON(t, "backlog-syn-timeout", k.obs), true)
				var r scenario.Result
				if err := json.Unmarshal([]byte(raw), &r); err != nil {
					t.Fatal(err)
				}
				r.Kernel, r.KernelPackage, r.Sysctls, r.Counters = k.release, k.pkg, k.sysctls, k.counters
				row := NewRow(nil, scenario.Knobs{"client.tcp_syn_retries": "2"}, nil, []*scenario.Result{&r})
				if row.Verdict != "PASS" {
					t.Fatalf("%s: %v", k.label, row.ObservationErrors)
				}
				sets = append(sets, &Set{Label: k.label, Kernel: k.release, Platform: "linux/amd64", Report: &Report{Schema: Schema, Rows: []*Row{row}}})
			}
			m := Merge(sets)
			ExplainKernels(m)
			facts := map[string]Fact{}
			var pkgs []string
			for _, f := range m.Rows[0].Kernel {
				facts[strings.Fields(f.Name)[0]] = f
				if f.Name == "kernel package" {
					pkgs = f.Cells
				}
			}
			if strings.Join(pkgs, "|") != strings.Join(tc.pkgs, "|") {
				t.Errorf("kernel package %q, want %q", pkgs, tc.pkgs)
			}
			for name, want := range map[string][]string{"tcp_syn_linear_timeouts": tc.linear, "SYN": tc.sched, "client": tc.counted} {
				got := facts[name]
				if strings.Join(got.Cells, "|") != strings.Join(want, "|") {
					t.Errorf("%s: %q, want %q", name, got.Cells, want)
				}
			}
			if !facts["tcp_syn_linear_timeouts"].Differs || len(m.Notes) != 1 || !strings.Contains(m.Notes[0], "The same on every kernel: expected_ms, failed_after_ms") {
				t.Errorf("notes %q", m.Notes)
			}
			var b bytes.Buffer
			if err := MergedTerminal(&b, m); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "kernel: tcp_syn_linear_timeouts (client)") || !strings.Contains(b.String(), "note: backlog-syn-timeout") {
				t.Errorf("terminal:\n%s", b.String())
			}
		})
	}
}
