package report

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// A per-kernel comparison is a merge whose sets are kernels (tcplab run
// --kernel): the same rows, figures and checks side by side, plus under
// each row the kernel's own settings that explain a difference, as each
// run read them: tcp_syn_linear_timeouts (absent before 6.5, not 0), the
// SYN schedule it gives with the row's tcp_syn_retries, and the SYN
// retransmissions the client's kernel counted (VM runs).

// Fact is one kernel setting of a row, per set.
type Fact struct {
	Name    string   `json:"name"`
	Cells   []string `json:"cells"` // per set; "—" where unknown
	Differs bool     `json:"differs"`
	Explain string   `json:"explain,omitempty"`
}

// KernelsDiffer says whether the sets ran on different kernels, so that a
// merge is worth explaining by kernel.
func KernelsDiffer(sets []*Set) bool {
	for _, s := range sets {
		if s.Kernel != sets[0].Kernel {
			return true
		}
	}
	return false
}

const linearName = "net.ipv4.tcp_syn_linear_timeouts"

// ExplainKernels adds each row's kernel facts and the merge's notes: for a
// figure that differs, which setting it follows; for one that agrees
// while the settings differ, that it does not depend on them.
func ExplainKernels(m *Merged) {
	for _, mr := range m.Rows {
		rs := m.src[mr]
		n := len(rs)
		release := Fact{Name: "kernel release", Cells: make([]string, n), Explain: "the kernel each run booted (host: the Docker host's)"}
		pkg := Fact{Name: "kernel package", Cells: make([]string, n), Explain: "the Debian package each VM booted, NAME=VERSION (apt-get download fetches that .deb again)"}
		linear := Fact{Name: "tcp_syn_linear_timeouts (client)", Cells: make([]string, n)}
		sched := Fact{Name: "SYN schedule (tcp_syn_retries, linear timeouts)", Cells: make([]string, n)}
		counted := Fact{Name: "client SYN retransmissions (TcpExt.TCPSynRetrans)", Cells: make([]string, n)}
		anyCounted, anyPkg, syn := false, false, false
		syns := make([]int, n)
		for i, row := range rs {
			release.Cells[i], pkg.Cells[i], linear.Cells[i], sched.Cells[i], counted.Cells[i] = "—", "—", "—", "—", "—"
			if row == nil || len(row.Results) == 0 || row.Results[0] == nil {
				continue
			}
			r := row.Results[0]
			release.Cells[i] = r.Kernel
			if r.KernelPackage != "" {
				pkg.Cells[i], anyPkg = r.KernelPackage, true
			}
			syn = syn || synRow(r)
			lin, known := linearOf(r)
			linear.Cells[i] = lin
			if retries, ok := retriesOf(r); ok && known {
				l, _ := strconv.Atoi(strings.Fields(lin + " 0")[0]) // "absent" schedules as 0
				sends, giveUp := tcpmodel.SynSchedule(retries, l)
				syns[i] = len(sends)
				var at []string
				for _, s := range sends {
					at = append(at, strconv.FormatFloat(s.Seconds(), 'g', -1, 64))
				}
				sched.Cells[i] = fmt.Sprintf("%d SYNs at %s s, gives up at %v", len(sends), strings.Join(at, ", "), giveUp.Round(time.Second))
			}
			if c, ok := r.Counters["client"]["TcpExt.TCPSynRetrans"]; ok {
				counted.Cells[i], anyCounted = strconv.FormatInt(c, 10), true
			} else if len(r.Counters) == 0 {
				counted.Cells[i] = "not counted (containers)"
			}
		}
		facts := []Fact{release}
		if anyPkg {
			facts = append(facts, pkg)
		}
		if !syn { // the row's figures do not depend on the SYN schedule
			mr.Kernel = facts
			continue
		}
		if differs(linear.Cells) {
			linear.Differs = true
			linear.Explain = "the kernel's own setting: absent before 6.5 (every SYN retransmission doubles the timer), else the first N retransmissions 1 s apart; the container runtime pins 0"
		}
		facts = append(facts, linear)
		if differs(sched.Cells) || sched.Cells[0] != "—" {
			sched.Differs = differs(sched.Cells)
			if sched.Differs {
				sched.Explain = "follows tcp_syn_linear_timeouts; the give-up time is 2^(R+1)−1 s rounded up to a timer firing on every kernel"
			}
			facts = append(facts, sched)
		}
		if anyCounted {
			counted.Differs = differs(counted.Cells)
			counted.Explain = "counted by the client's kernel: the schedule's SYNs minus the first"
			facts = append(facts, counted)
		}
		mr.Kernel = facts
		if note := kernelNote(m, mr, linear.Cells, syns); note != "" {
			m.Notes = append(m.Notes, note)
		}
	}
}

// kernelNote says, for a row whose linear timeouts differ, which figures
// followed them and which did not.
func kernelNote(m *Merged, mr *MergedRow, linear []string, syns []int) string {
	if !differs(linear) {
		return ""
	}
	var same, diff []string
	for _, f := range mr.Figures {
		if f.Status == Same {
			same = append(same, f.Name)
		} else {
			diff = append(diff, f.Name)
		}
	}
	var per []string
	for i, s := range m.Sets {
		w := "—"
		if syns[i] > 0 {
			w = fmt.Sprintf("%d SYNs", syns[i])
		}
		per = append(per, fmt.Sprintf("%s: tcp_syn_linear_timeouts %s, %s", s.Label, linear[i], w))
	}
	note := fmt.Sprintf("%s %s: %s", mr.Scenario, mr.Knobs, strings.Join(per, "; "))
	if len(same) > 0 {
		note += ". The same on every kernel: " + strings.Join(same, ", ")
	}
	if len(diff) > 0 {
		note += ". Different: " + strings.Join(diff, ", ") + " (the kernels' settings above)"
	}
	return note
}

// linearOf is tcp_syn_linear_timeouts as the client's kernel had it: read
// in the VM, else recorded by the scenario (with whether it exists).
func linearOf(r *scenario.Result) (string, bool) {
	if c, ok := r.Sysctls["client"]; ok {
		if v, ok := c[linearName]; ok {
			return v, true
		}
		return "absent", true
	}
	var o struct {
		Linear *int `json:"tcp_syn_linear_timeouts"`
		Absent bool `json:"tcp_syn_linear_timeouts_absent"`
	}
	if json.Unmarshal(r.Observations, &o) != nil || o.Linear == nil {
		return "—", false
	}
	if o.Absent {
		return "absent", true
	}
	return strconv.Itoa(*o.Linear), true
}

// synRow: the scenario recorded the SYN schedule's settings, so its
// figures may follow them.
func synRow(r *scenario.Result) bool {
	var o map[string]json.RawMessage
	if json.Unmarshal(r.Observations, &o) != nil {
		return false
	}
	_, a := o["tcp_syn_linear_timeouts"]
	_, b := o["tcp_syn_retries"]
	return a || b
}

func retriesOf(r *scenario.Result) (int, bool) {
	var o struct {
		Retries *int `json:"tcp_syn_retries"`
	}
	if json.Unmarshal(r.Observations, &o) == nil && o.Retries != nil {
		return *o.Retries, true
	}
	if v, ok := r.Knobs["client.tcp_syn_retries"]; ok {
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

func differs(cells []string) bool {
	for _, c := range cells {
		if c != cells[0] {
			return true
		}
	}
	return false
}
