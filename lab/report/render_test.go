package report

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
)

func render(t *testing.T, fn func(io.Writer, *Report) error, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := fn(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func wantSubstrings(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("missing %q in:\n%s", s, out)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestTerminal(t *testing.T) {
	out := render(t, Terminal, sampleReport())
	wantSubstrings(t, out,
		"RESULT  SCENARIO",
		"PASS    backlog-full         server.somaxconn=16 ",
		"somaxconn=16 → 17 at once, accept queue 17, overflows +1 (1st of 3)",
		"succeeded_at_once 17;",
		"(within tolerance)",
		"FAIL    backlog-syn-timeout  client.tcp_syn_retries=3",
		"failed_after_ms 15053/15071/19104 (not reproducible, spread 27%)",
		"macOS 2015: 128",
		"  ✗ backlog-syn-timeout [client.tcp_syn_retries=3] run 2/3: gives up on the SYN schedule: took 19104 ms, expected 15000 ms\n",
	)
	if strings.Contains(out, "kernel timer") {
		t.Error("the terminal shows only the first line of a failed check")
	}
	// CI parses the closing line.
	if got := lastLine(out); got != "10 passed, 1 failed" || !regexp.MustCompile(`(?m)^\d+ passed, \d+ failed$`).MatchString(out) {
		t.Errorf("closing line %q", got)
	}
}

func TestMarkdown(t *testing.T) {
	rep := sampleReport()
	sampleRow(rep, "backlog-full", 0).Results[0].Headline = "a | b"
	out := render(t, Markdown, rep)
	wantSubstrings(t, out,
		"kernel `6.8.0-test`, 10 passed, 1 failed",
		"### 2 Connection set-up\n\n| RESULT | SCENARIO | KNOBS | OBSERVED | FIGURES (min/median/max) | ARTICLE (2015) |\n|---|---|---|---|---|---|\n",
		"| ✅ PASS | `backlog-full` | `server.somaxconn=16` | a \\| b (1st of 3) | succeeded_at_once 17<br>slowest_success_ms",
		"| macOS 2015: 128 (kern.ipc.somaxconn=128); Ubuntu 14.04: 499 — the lab pins somaxconn and Linux admits backlog+1 |",
		"| ❌ FAIL | `backlog-syn-timeout` | `client.tcp_syn_retries=3` |",
		"### 3 Writing",
		"`client.tcp_wmem=4096 16384 4194304 server.tcp_rmem=4096 131072 6291456`",
		"### Failures\n\n- backlog-syn-timeout [client.tcp_syn_retries=3] run 2/3: gives up on the SYN schedule: took 19104 ms, expected 15000 ms\n  ```\n  kernel timer: tcp_syn_linear_timeouts=0\n  ```\n",
	)
	if strings.Index(out, "### 3 Writing") < strings.Index(out, "backlog-syn-timeout") {
		t.Error("rows are not grouped by section")
	}
}

func TestJSON(t *testing.T) {
	rep := sampleReport()
	rep.Schema = ""
	out := render(t, JSON, rep)
	wantSubstrings(t, out, "{\n  \"schema\": \"tcplab.report/v1\",\n  \"kernel\": \"6.8.0-test\",", `"reproducibility": "not reproducible"`)
	var back Report
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatal(err)
	}
	if back.Schema != Schema || len(back.Rows) != len(rep.Rows) || len(sampleRow(&back, "backlog-full", 0).Figures) == 0 ||
		len(sampleRow(&back, "backlog-full", 0).Timeline) == 0 || sampleRow(&back, "backlog-syn-timeout", 2).Verdict != "FAIL" {
		t.Errorf("round trip lost data: %+v", back)
	}
	if rep.Schema != "" {
		t.Error("JSON changed its argument")
	}
}

// TestHTMLStatic checks the page without a browser: the charts the data
// calls for, and nothing fetched from elsewhere.
func TestHTMLStatic(t *testing.T) {
	out := render(t, HTML, sampleReport())
	got := map[string]int{}
	for _, m := range regexp.MustCompile(`<svg class="chart" data-chart="([^"]+)"`).FindAllStringSubmatch(out, -1) {
		got[m[1]]++
	}
	for kind, n := range sampleCharts {
		if got[kind] != n {
			t.Errorf("%d %s charts, want %d (all: %v)", got[kind], kind, n, got)
		}
	}
	for _, bad := range []string{"<script", "<link", " src=", " href=", "@import", "url("} {
		if strings.Contains(out, bad) {
			t.Errorf("the page is not self-contained: it has %q", bad)
		}
	}
	wantSubstrings(t, out, "<b>10 passed, 1 failed</b>", `<tr class="fail">`, "SYN-ACK ×17", "gives up 31s")
}
