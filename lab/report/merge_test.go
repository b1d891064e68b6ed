package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// resultJSON is one result as a client driver prints it. Fixtures go
// through JSON, as real result sets do, so they read whichever way the
// report decodes observations.
func resultJSON(scn, platform, knobs, obs string, held ...bool) string {
	var checks []string
	ok := true
	for i, h := range held {
		checks = append(checks, fmt.Sprintf(`{"name":"check %d","ok":%t,"detail":"detail %d"}`, i+1, h, i+1))
		ok = ok && h
	}
	return fmt.Sprintf(`{"schema":"tcplab.result/v1","scenario":%q,"kernel":"6.18.44","platform":%q,"knobs":%s,
		"headline":"%s headline","observations":%s,"checks":[%s],"ok":%t}`,
		scn, platform, knobs, scn, obs, strings.Join(checks, ","), ok)
}

// obsJSON is a scenario's complete observations (every field its type
// declares, zero) with some fields set: what its driver would record.
func obsJSON(t *testing.T, scn string, set map[string]any) string {
	t.Helper()
	sc, err := scenarios.Lookup(scn)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	b, _ := json.Marshal(sc.Obs())
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		m[k] = v
	}
	b, _ = json.Marshal(m)
	return string(b)
}

// writeAmd64 writes a `tcplab run --out` set: one report.json whose rows
// name only their overrides.
func writeAmd64(t *testing.T, dir string) {
	rows := []struct {
		scn  string
		set  scenario.Knobs
		obs  []string
		held bool
	}{
		{"backlog-full", scenario.Knobs{"server.somaxconn": "16", "client.dials": "40"},
			[]string{obsJSON(t, "backlog-full", map[string]any{"succeeded_at_once": 17, "slowest_success_ms": 0.9}), obsJSON(t, "backlog-full", map[string]any{"succeeded_at_once": 17, "slowest_success_ms": 1.2})}, true},
		{"dial-timeout", nil, []string{obsJSON(t, "dial-timeout", map[string]any{"syns_dropped": 6}), obsJSON(t, "dial-timeout", map[string]any{"syns_dropped": 6})}, true},
		{"write-block", nil, []string{obsJSON(t, "write-block", map[string]any{"bytes_before_block": 640960}), obsJSON(t, "write-block", map[string]any{"bytes_before_block": 749184})}, true},
		{"opt-buffers", nil, []string{obsJSON(t, "opt-buffers", map[string]any{"rmem_max": 4194304})}, true},
	}
	rep := &Report{Schema: Schema, Kernel: "6.18.44", Platform: "linux/amd64"}
	for _, r := range rows {
		var results []*scenario.Result
		for _, o := range r.obs {
			var res scenario.Result
			if err := json.Unmarshal([]byte(resultJSON(r.scn, "linux/amd64", "{}", o, r.held)), &res); err != nil {
				t.Fatal(err)
			}
			results = append(results, &res)
		}
		rep.Rows = append(rep.Rows, NewRow(nil, r.set, nil, results))
	}
	var b bytes.Buffer
	if err := JSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeArm64 writes a compose-style set: result files only, every knob in
// each, as the client driver prints them.
func writeArm64(t *testing.T, dir string) {
	files := map[string]string{
		"backlog-full.json": resultJSON("backlog-full", "linux/arm64", `{"server.somaxconn":"16","client.dials":"40"}`,
			obsJSON(t, "backlog-full", map[string]any{"succeeded_at_once": 17, "slowest_success_ms": 14.1}), true),
		"dial-timeout-1.json": resultJSON("dial-timeout", "linux/arm64", `{"client.timeout":"2s"}`, obsJSON(t, "dial-timeout", map[string]any{"syns_dropped": 12}), false),
		"dial-timeout-2.json": resultJSON("dial-timeout", "linux/arm64", `{"client.timeout":"2s"}`, obsJSON(t, "dial-timeout", map[string]any{"syns_dropped": 14}), false),
		"write-block.json":    resultJSON("write-block", "linux/arm64", `{}`, obsJSON(t, "write-block", map[string]any{"bytes_before_block": 700000}), true),
		"notes.json":          `{"not":"a result"}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func defaults(id string) scenario.Knobs {
	return map[string]scenario.Knobs{
		"backlog-full": {"server.somaxconn": "4096", "client.dials": "40"},
		"dial-timeout": {"client.timeout": "2s"},
	}[id]
}

func loadFixtures(t *testing.T) *Merged {
	t.Helper()
	root := t.TempDir()
	a, b := filepath.Join(root, "results-amd64"), filepath.Join(root, "results-arm64")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeAmd64(t, a)
	writeArm64(t, b)
	var sets []*Set
	for _, d := range []string{a, b} {
		s, err := Load(d, defaults)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, s)
	}
	return Merge(sets)
}

func TestMerge(t *testing.T) {
	m := loadFixtures(t)
	if got := []string{m.Sets[0].Label, m.Sets[1].Label}; got[0] != "linux/amd64" || got[1] != "linux/arm64" {
		t.Errorf("labels %v, want the recorded platforms", got)
	}
	rows := map[string]*MergedRow{}
	for _, r := range m.Rows {
		rows[r.Scenario+" "+r.Knobs] = r
	}
	if len(rows) != 4 {
		t.Fatalf("rows %v, want 4 (matched without the knobs equal to defaults, shown as the first set spelled them; repetitions together)", keysOf(rows))
	}
	tests := []struct {
		row, item, want string // item: a figure name, "check:NAME", or "" for the row itself
	}{
		{"backlog-full client.dials=40 server.somaxconn=16", "", "PASS PASS"},
		{"backlog-full client.dials=40 server.somaxconn=16", "succeeded_at_once", Same},
		{"backlog-full client.dials=40 server.somaxconn=16", "slowest_success_ms", Same}, // 0.9 vs 14.1 ms: within 50 ms
		{"backlog-full client.dials=40 server.somaxconn=16", "check:check 1", Same},
		{"dial-timeout ", "", "PASS FAIL"},
		{"dial-timeout ", "syns_dropped", Differs}, // 6 vs 12-14
		{"dial-timeout ", "check:check 1", Differs},
		{"write-block ", "bytes_before_block", Same}, // 700,000 lies inside amd64's own autotuned range
		{"opt-buffers ", "", "PASS "},                // absent from the arm64 set
		{"opt-buffers ", "rmem_max", Same},           // flagged once, on the row
	}
	for _, tc := range tests {
		r := rows[tc.row]
		if r == nil {
			t.Errorf("no row %q", tc.row)
			continue
		}
		var got string
		switch {
		case tc.item == "":
			got = strings.Join(r.Verdicts, " ")
		case strings.HasPrefix(tc.item, "check:"):
			for _, c := range r.Checks {
				if c.Name == strings.TrimPrefix(tc.item, "check:") {
					got = c.Status
				}
			}
		default:
			for _, f := range r.Figures {
				if f.Name == tc.item {
					got = f.Status
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s %s: got %q, want %q", tc.row, tc.item, got, tc.want)
		}
	}
	// dial-timeout: verdicts, a figure, a check; opt-buffers: the row.
	if m.Flags != 4 {
		t.Errorf("flags %d, want 4: %s", m.Flags, jsonOf(m))
	}
	if !rows["dial-timeout "].Differs || !rows["opt-buffers "].Differs || rows["backlog-full client.dials=40 server.somaxconn=16"].Differs {
		t.Errorf("row flags wrong: %+v", m.Rows)
	}
}

func keysOf(m map[string]*MergedRow) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMergeLabels(t *testing.T) {
	tests := []struct {
		platforms, dirs, want []string
	}{
		{[]string{"linux/amd64", "linux/arm64"}, []string{"a", "b"}, []string{"linux/amd64", "linux/arm64"}},
		{[]string{"linux/amd64", "linux/amd64"}, []string{"x/ci", "y/laptop/"}, []string{"linux/amd64 ci", "linux/amd64 laptop"}},
		{[]string{"", "linux/arm64"}, []string{"old-results", "b"}, []string{"old-results", "linux/arm64"}},
	}
	for _, tc := range tests {
		var sets []*Set
		for i := range tc.platforms {
			sets = append(sets, &Set{Platform: tc.platforms[i], Dir: tc.dirs[i], Report: &Report{}})
		}
		Merge(sets)
		for i, s := range sets {
			if s.Label != tc.want[i] {
				t.Errorf("%v %v: label %d %q, want %q", tc.platforms, tc.dirs, i, s.Label, tc.want[i])
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	wrong := t.TempDir()
	if err := os.WriteFile(filepath.Join(wrong, "report.json"), []byte(`{"schema":"tcplab.report/v0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, dir, want string }{
		{"no results", empty, "no report.json and no tcplab result files"},
		{"other schema", wrong, `schema "tcplab.report/v0"`},
		{"absent", filepath.Join(empty, "nope"), "no such file"},
	}
	for _, tc := range tests {
		if _, err := Load(tc.dir, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestMergedRenderers(t *testing.T) {
	m := loadFixtures(t)
	var term, md, page, js bytes.Buffer
	for _, r := range []struct {
		w      *bytes.Buffer
		render func(*bytes.Buffer) error
	}{
		{&term, func(b *bytes.Buffer) error { return MergedTerminal(b, m) }},
		{&md, func(b *bytes.Buffer) error { return MergedMarkdown(b, m) }},
		{&page, func(b *bytes.Buffer) error { return MergedHTML(b, m) }},
		{&js, func(b *bytes.Buffer) error { return MergedJSON(b, m) }},
	} {
		if err := r.render(r.w); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"linux/amd64", "linux/arm64", "≠", "syns_dropped", "12/13/14",
		"missing in linux/arm64", "4 differences in 2 rows"} {
		if !strings.Contains(term.String(), want) {
			t.Errorf("terminal lacks %q:\n%s", want, term.String())
		}
	}
	if strings.Contains(term.String(), "succeeded_at_once") {
		t.Errorf("terminal lists a figure that is the same everywhere:\n%s", term.String())
	}
	for name, s := range map[string]string{"markdown": md.String(), "html": page.String()} {
		if !strings.Contains(s, "succeeded_at_once") || !strings.Contains(s, "≠") {
			t.Errorf("%s lacks every figure or the flags:\n%s", name, s)
		}
	}
	var back Merged
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Schema != MergedSchema || back.Flags != m.Flags {
		t.Errorf("JSON round trip: %v, schema %q, flags %d", err, back.Schema, back.Flags)
	}
}

func TestCompareFigure(t *testing.T) {
	tests := []struct {
		name string
		sets [][]float64 // nil: the set lacks the figure
		want string
	}{
		{"identical counts", [][]float64{{17, 17}, {17}}, Same},
		{"one more", [][]float64{{17}, {18}}, Same}, // 5.7 %, within the 10 % tolerance
		{"twice", [][]float64{{16}, {32}}, Differs},
		{"ms jitter", [][]float64{{3.1}, {3.09}, {40}}, Same}, // within 50 ms
		{"ms late", [][]float64{{2002}, {2101}}, Same},        // 5 % of the figure
		{"ms far", [][]float64{{1000}, {1500}}, Differs},      // 500 ms and 40 %
		{"inside a noisy set", [][]float64{{640960, 749184}, {700000}}, Same},
		{"outside a noisy set", [][]float64{{640960, 749184}, {36200}}, Differs},
		{"absent in one", [][]float64{{1}, nil}, Missing},
	}
	for _, tc := range tests {
		name := "n" // a count; the "ms" cases are durations, with their 50 ms slack
		if strings.HasPrefix(tc.name, "ms") {
			name = "x_ms"
		}
		var cells []*Figure
		var rows []*Row
		for _, vs := range tc.sets {
			rows = append(rows, &Row{})
			if vs == nil {
				cells = append(cells, nil)
				continue
			}
			f := newFigure(name, vs)
			cells = append(cells, &f)
		}
		if got := compareFigure(name, cells, rows).Status; got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
