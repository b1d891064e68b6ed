package report

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// The charts sampleReport should produce, by kind.
var sampleCharts = map[string]int{
	chartDialHistogram: 2, // dial-lossy, backlog-slow-accept
	chartBlockBars:     1, // write-block
	chartProgress:      2, // the write-block rows that report progress
	chartSweep:         2, // backlog-full somaxconn, backlog-syn-timeout retries
	chartTimeline:      1, // backlog-full somaxconn=16
}

// result builds a Result the way the CLI gets it: observations decoded from
// the client's JSON, so numbers are float64 and arrays []any.
func result(scn string, knobs scenario.Knobs, headline, obs string, checks ...scenario.Check) *scenario.Result {
	r := &scenario.Result{Schema: scenario.Schema, Scenario: scn, Knobs: knobs, Kernel: "6.8.0-test",
		Mechanism: "none", Started: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), DurationMS: 1234,
		Headline: headline, Checks: checks, OK: true}
	if err := json.Unmarshal([]byte(obs), &r.Observations); err != nil {
		panic(fmt.Sprintf("%s: %v in %s", scn, err, obs))
	}
	for _, c := range checks {
		r.OK = r.OK && c.OK
	}
	return r
}

func pass(name string) scenario.Check { return scenario.Check{Name: name, OK: true} }

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sampleReport is a realistic multi-run report: sweeps, repetitions that
// jitter, one failing repetition, dial durations, write progress and a
// packet timeline.
func sampleReport() *Report {
	rng := rand.New(rand.NewPCG(1, 2))
	jitter := func(v, by float64) float64 { return v + (rng.Float64()-0.5)*2*by }
	rep := &Report{Schema: Schema, Kernel: "6.8.0-test",
		Started:  time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Finished: time.Date(2025, 3, 1, 12, 6, 30, 0, time.UTC)}
	setup := &scenario.Scenario{Section: "2 Connection set-up"}
	add := func(id, title, article, section string, set, vary scenario.Knobs, results ...*scenario.Result) *Row {
		s := *setup
		s.ID, s.Title, s.Article = id, title, article
		if section != "" {
			s.Section = section
		}
		row := NewRow(&s, set, vary, results)
		rep.Rows = append(rep.Rows, row)
		return row
	}

	// backlog-full swept over somaxconn: somaxconn+1 succeed every time.
	for _, s := range []int{16, 128, 512} {
		var rs []*scenario.Result
		for range 3 {
			obs := fmt.Sprintf(`{"succeeded_at_once":%d,"accept_queue":%d,"listener_backlog":%d,"listen_overflows":1,"listen_drops":1,
				"slowest_success_ms":%.1f,"next_dial":{"kind":"context.DeadlineExceeded","text":"dial tcp 172.18.0.2:8080: i/o timeout","timeout":true},
				"server_sysctls":{"net.core.somaxconn":"%d"}}`, s+1, s+1, s, jitter(3.3, 1.2), s)
			rs = append(rs, result("backlog-full", scenario.Knobs{"server.somaxconn": fmt.Sprint(s)},
				fmt.Sprintf("somaxconn=%d → %d at once, accept queue %d, overflows +1", s, s+1, s+1), obs,
				pass("exactly somaxconn+1 succeed at once"), pass("the next dial blocks")))
		}
		row := add("backlog-full", "server never accepts: how many dials succeed at once",
			"macOS 2015: 128 (kern.ipc.somaxconn=128); Ubuntu 14.04: 499 — the lab pins somaxconn and Linux admits backlog+1",
			"", nil, scenario.Knobs{"server.somaxconn": fmt.Sprint(s)}, rs...)
		if s == 16 {
			row.Timeline = backlogTimeline(rng)
		}
	}

	// backlog-syn-timeout swept over tcp_syn_retries; one repetition gives
	// up on a linear-timeout schedule and fails its check.
	for _, r := range []int{1, 2, 3} {
		var rs []*scenario.Result
		_, giveUp := tcpmodel.SynSchedule(r, 0)
		for i := range 3 {
			took, ok := jitter(float64(giveUp.Milliseconds())+90, 40), true
			if r == 3 && i == 1 {
				took, ok = 19104.2, false
			}
			obs := fmt.Sprintf(`{"failed_after_ms":%.1f,"expected_ms":%d,"tcp_syn_retries":%d,"tcp_syn_linear_timeouts":0,
				"error":{"kind":"ETIMEDOUT","text":"dial tcp 172.18.0.2:8080: connect: connection timed out","timeout":true}}`,
				took, giveUp.Milliseconds(), r)
			rs = append(rs, result("backlog-syn-timeout", scenario.Knobs{"client.tcp_syn_retries": fmt.Sprint(r)},
				fmt.Sprintf("tcp_syn_retries=%d → ETIMEDOUT after %.2f s", r, took/1000), obs,
				scenario.Check{Name: "gives up on the SYN schedule", OK: ok,
					Detail: fmt.Sprintf("took %.0f ms, expected %d ms\nkernel timer: tcp_syn_linear_timeouts=0", took, giveUp.Milliseconds())}))
		}
		add("backlog-syn-timeout", "SYNs are never answered: connect gives up after tcp_syn_retries",
			"macOS 2015: about 77 s; Ubuntu 14.04: over 10 minutes — both the host's SYN retry settings; the lab pins tcp_syn_retries",
			"", nil, scenario.Knobs{"client.tcp_syn_retries": fmt.Sprint(r)}, rs...)
	}

	// dial-lossy: durations cluster on the slots 0, 1, 3, 7, 15 s.
	var lossy []*scenario.Result
	for range 2 {
		var ds []float64
		hist := map[string]int{}
		for range 80 {
			n := 0
			for n < 5 && rng.Float64() < 0.5 {
				n++
			}
			if n == 5 {
				hist["failed"]++
				continue
			}
			slot := float64(int(1)<<n - 1)
			ds = append(ds, slot*1000+slot*rng.Float64()*90+rng.Float64()*25)
			hist[fmt.Sprintf("%gs", slot)]++
		}
		failed := []map[string]any{}
		for range hist["failed"] {
			failed = append(failed, map[string]any{"took_ms": 31000 + rng.Float64()*100, "err": map[string]any{"kind": "ETIMEDOUT"}})
		}
		obs := fmt.Sprintf(`{"tcp_syn_retries":4,"tcp_syn_linear_timeouts":0,"durations_ms":%s,"failed":%s,"syns_dropped":%d,"histogram":%s}`,
			jsonOf(ds), jsonOf(failed), 70+rng.IntN(8), jsonOf(hist))
		lossy = append(lossy, result("dial-lossy", scenario.Knobs{"impair.syn_loss": "0.5", "client.dials": "80", "client.tcp_syn_retries": "4"},
			fmt.Sprintf("p=0.50, 80 dials: 0s:%d 1s:%d 3s:%d 7s:%d 15s:%d failed:%d", hist["0s"], hist["1s"], hist["3s"], hist["7s"], hist["15s"], hist["failed"]),
			obs, pass("durations sit on the SYN schedule")))
	}
	add("dial-lossy", "a fraction p of SYNs is dropped: dial durations cluster on the SYN schedule",
		"not in the article (it only had a slow public address)", "", scenario.Knobs{"impair.syn_loss": "0.5"}, nil, lossy...)

	// backlog-slow-accept: blocked dials finish on SYN retransmissions.
	var slow []*scenario.Result
	for range 3 {
		ms := []float64{jitter(1012, 8), jitter(3025, 10), jitter(7040, 20)}
		slow = append(slow, result("backlog-slow-accept", scenario.Knobs{"server.accept_every": "2s"},
			"accept every 2s → blocked dials took [1 3 7] s",
			fmt.Sprintf(`{"tcp_syn_retries":6,"tcp_syn_linear_timeouts":0,"blocked_dial_ms":%s,"accepts_ms":[2001,4002,6003]}`, jsonOf(ms)),
			pass("durations sit on the SYN schedule")))
	}
	add("backlog-slow-accept", "server accepts one connection every A seconds: blocked dials finish on SYN retransmissions",
		"the article's dials waited for accepts without saying when; here they land on SYN retransmissions", "", nil, nil, slow...)

	// write-block: bytes accepted before Write blocks, per buffer setting.
	cases := []struct {
		set   scenario.Knobs
		bytes float64
		prog  int // repetitions that report progress
	}{
		{scenario.Knobs{"client.tcp_wmem": "4096 16384 4194304", "server.tcp_rmem": "4096 131072 6291456"}, 2_650_000, 3},
		{scenario.Knobs{"client.tcp_wmem": "4096 16384 16384", "server.tcp_rmem": "4096 65536 65536"}, 180_000, 1},
		{scenario.Knobs{"client.tcp_wmem": "4096 65536 65536", "server.tcp_rmem": "4096 131072 131072", "server.tcp_moderate_rcvbuf": "0"}, 420_000, 0},
	}
	for _, c := range cases {
		var rs []*scenario.Result
		for i := range 3 {
			b := float64(int(jitter(c.bytes, c.bytes*0.03)))
			o := scenarios.WriteBlockObs{ClientTCPWmem: c.set["client.tcp_wmem"], BytesBeforeBlock: int(b),
				ResumedAfterMS: []float64{jitter(320, 15)}}
			if i < c.prog {
				var pts [][2]float64
				pace := jitter(40, 15) // how fast the peer's window closes
				for t := 0.0; t <= 300; t += 20 {
					pts = append(pts, [2]float64{t, float64(int(b * (1 - 1/(1+t/pace))))})
				}
				pts = append(pts, [2]float64{320, b})
				o.Progress = pts
			}
			rs = append(rs, result("write-block", c.set,
				fmt.Sprintf("Write blocked after %s", bytesText(b)),
				jsonOf(&o),
				pass("Write blocks once both buffers are full")))
		}
		add("write-block", "the peer never reads: how much Write accepts before it blocks",
			"macOS 2015: about 1 MB; the lab sets both buffers", "3 Writing", c.set, nil, rs...)
	}
	// The dial histograms first, so the 1280×2000 screenshot shows them.
	first := map[string]int{"dial-lossy": -2, "backlog-slow-accept": -1}
	sort.SliceStable(rep.Rows, func(i, j int) bool { return first[rep.Rows[i].Scenario] < first[rep.Rows[j].Scenario] })
	return rep
}

// sampleRow finds the i-th row of a scenario in sampleReport.
func sampleRow(r *Report, scn string, i int) *Row {
	for _, row := range r.Rows {
		if row.Scenario == scn {
			if i == 0 {
				return row
			}
			i--
		}
	}
	panic("no row " + scn)
}

// backlogTimeline: 17 handshakes complete, the 18th SYN is dropped, and
// the client's close resets the queued connections.
func backlogTimeline(rng *rand.Rand) []Packet {
	var out []Packet
	pk := func(at float64, dir, flags string) {
		src, dst := "172.18.0.3:40000", "172.18.0.2:8080"
		if dir == "out" {
			src, dst = dst, src
		}
		out = append(out, Packet{AtMS: at, Dir: dir, Flags: flags, Src: src, Dst: dst, Len: 0})
	}
	t := 0.0
	for range 17 {
		pk(t, "in", "SYN")
		pk(t+0.08, "out", "SYN-ACK")
		pk(t+0.15, "in", "ACK")
		t += 0.4 + rng.Float64()*0.3
	}
	pk(t, "in", "SYN")
	for i := range 17 {
		pk(t+520+float64(i)*0.2, "in", "RST-ACK")
	}
	return out
}
