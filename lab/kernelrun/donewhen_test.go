package kernelrun_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// TestDoneWhen checks the output of `tcplab run backlog-full
// backlog-syn-timeout --kernel 6.1,6.12,host --out DIR` (.ci/run sets
// TCPLAB_KERNEL_RESULTS=DIR): results for all three kernels with their
// releases; backlog 16 admits 17 on each; tcp_syn_linear_timeouts as each
// kernel has it (absent on 6.1, 4 on 6.12, pinned 0 on the host); the
// blocked Dial gives up when each kernel's own schedule says, the same
// time for R ≤ 2, while the SYNs the VMs' kernels sent follow their
// linear timeouts; the comparison shows the kernel facts and notes.
func TestDoneWhen(t *testing.T) {
	dir := os.Getenv("TCPLAB_KERNEL_RESULTS")
	if dir == "" {
		t.Skip("TCPLAB_KERNEL_RESULTS names no tcplab run --kernel output")
	}
	type synRun struct {
		expected float64
		sent     int64
	}
	giveUps := map[string]map[string]synRun{} // knobs → kernel → …
	for _, tc := range []struct {
		kernel, release string
		linear          string // "" = absent
	}{{"6.1", "6.1.", ""}, {"6.12", "6.12.", "4"}, {"host", "", "0"}} {
		set, err := report.Load(filepath.Join(dir, tc.kernel), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Report.Rows) != 5 {
			t.Errorf("%s: %d rows, want 5 (backlog-full ×2, backlog-syn-timeout ×3)", tc.kernel, len(set.Report.Rows))
		}
		for _, row := range set.Report.Rows {
			if row.Verdict != "PASS" {
				t.Errorf("%s: %s %v: %s", tc.kernel, row.Scenario, row.Set, row.Verdict)
			}
			for _, r := range row.Results {
				if r.Kernel == "" || !strings.HasPrefix(r.Kernel, tc.release) {
					t.Errorf("%s: %s ran on %q", tc.kernel, row.Scenario, r.Kernel)
				}
				switch row.Scenario {
				case "backlog-full":
					o, err := scenario.Observations[scenarios.BacklogFullObs](r)
					if err != nil {
						t.Fatal(err)
					}
					if s, _ := strconv.Atoi(row.Set["server.somaxconn"]); o.SucceededAtOnce != s+1 {
						t.Errorf("%s: somaxconn %d admitted %d", tc.kernel, s, o.SucceededAtOnce)
					}
				case "backlog-syn-timeout":
					o, err := scenario.Observations[scenarios.BacklogSynTimeoutObs](r)
					if err != nil {
						t.Fatal(err)
					}
					got := strconv.Itoa(o.TCPSynLinearTimeouts)
					if o.TCPSynLinearTimeoutsAbsent {
						got = ""
					}
					if got != tc.linear {
						t.Errorf("%s: tcp_syn_linear_timeouts %q, want %q (\"\" = absent)", tc.kernel, got, tc.linear)
					}
					sends, giveUp := tcpmodel.SynSchedule(o.TCPSynRetries, o.TCPSynLinearTimeouts)
					if o.ExpectedMS != scenario.Ms(giveUp) {
						t.Errorf("%s: expected %v ms, the schedule says %v", tc.kernel, o.ExpectedMS, giveUp)
					}
					run := synRun{expected: o.ExpectedMS, sent: -1}
					if r.Counters != nil { // a VM counted the client's SYN retransmissions
						run.sent = r.Counters["client"]["TcpExt.TCPSynRetrans"]
						if run.sent != int64(len(sends)-1) {
							t.Errorf("%s: %d SYN retransmissions, the schedule %v has %d", tc.kernel, run.sent, sends, len(sends)-1)
						}
					}
					k := row.Set["client.tcp_syn_retries"]
					if giveUps[k] == nil {
						giveUps[k] = map[string]synRun{}
					}
					giveUps[k][tc.kernel] = run
				}
			}
		}
	}
	// R = 2: the give-up agrees (7 s), the SYNs sent differ (3 on 6.1, 6 on 6.12).
	two := giveUps["2"]
	if two["6.1"].expected != two["6.12"].expected || two["6.1"].expected != two["host"].expected || two["6.1"].sent != 2 || two["6.12"].sent != 5 {
		t.Errorf("tcp_syn_retries=2: %+v, want one give-up and 2 vs 5 retransmissions", two)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m report.Merged
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	facts := 0
	for _, mr := range m.Rows {
		for _, f := range mr.Kernel {
			if strings.HasPrefix(f.Name, "tcp_syn_linear_timeouts") && f.Differs && f.Cells[0] == "absent" && f.Cells[1] == "4" {
				facts++
			}
		}
	}
	if facts != 3 || len(m.Notes) != 3 || len(m.Sets) != 3 {
		t.Errorf("comparison: %d rows with the linear timeouts explained, %d notes, %d sets; want 3, 3, 3", facts, len(m.Notes), len(m.Sets))
	}
}
