package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/scenarios"
)

// recordedDir holds a recorded result of every scenario (see
// lab/scenarios/sensitivity_test.go).
const recordedDir = "../scenarios/testdata/recorded"

// overlapPages are the reports the overlap test lays out: the sample
// report, the latency charts' report, one row per recorded result, and
// the latency report with its fastest run just under 10 MB/s, where the
// throughput axis ends at 10 and the run sits in the top right corner.
func overlapPages(t *testing.T) map[string]*Report {
	t.Helper()
	rec, errs := FromFiles(recordedDir, nil)
	if len(errs) > 0 || len(rec.Rows) == 0 {
		t.Fatalf("recorded results in %s: %d rows, %v", recordedDir, len(rec.Rows), errs)
	}
	top := latencyReport()
	for _, row := range top.Rows {
		if row.Scenario == "latency-bdp" && row.Set["server.read_buffer"] == "262144" {
			row.Results[0] = result("latency-bdp", nil, "h", jsonOf(scenarios.LatencyBDPObs{ReadBuffer: 262144, ThroughputMBps: 7.5, WindowOverRTTMBps: 7.6}), pass("c"))
		}
	}
	return map[string]*Report{"sample": sampleReport(), "latency": latencyReport(), "recorded": rec, "latency-top": top}
}

// overlapScript runs in the page once it is laid out: for every chart it
// measures each <text>'s box in the SVG's own units (so the page's width
// does not matter) and writes the pairs that overlap by more than 1 unit
// both ways into <pre id="overlaps"> as JSON, which --dump-dom prints.
const overlapScript = `<script>
(function () {
  var tol = 1, out = {charts: 0, texts: 0, pairs: []};
  document.querySelectorAll("svg.chart").forEach(function (svg, i) {
    out.charts++;
    var r = svg.getBoundingClientRect(), k = svg.viewBox.baseVal.width / r.width;
    var page = svg.closest("[data-page]"), texts = [];
    svg.querySelectorAll("text").forEach(function (t) {
      var b = t.getBoundingClientRect();
      if (b.width === 0 || t.textContent.trim() === "") return;
      texts.push({s: t.textContent, x0: (b.left - r.left) * k, y0: (b.top - r.top) * k,
        x1: (b.right - r.left) * k, y1: (b.bottom - r.top) * k});
    });
    out.texts += texts.length;
    var ts = svg.querySelectorAll("text");
    var name = (page ? page.dataset.page : "") + " chart " + i + " " + svg.dataset.chart +
      " \"" + ts[0].textContent + " — " + ts[1].textContent + "\"";
    for (var a = 0; a < texts.length; a++) {
      for (var b = a + 1; b < texts.length; b++) {
        var p = texts[a], q = texts[b];
        var w = Math.min(p.x1, q.x1) - Math.max(p.x0, q.x0), h = Math.min(p.y1, q.y1) - Math.max(p.y0, q.y0);
        if (w > tol && h > tol) out.pairs.push({chart: name, a: p, b: q, w: w, h: h});
      }
    }
  });
  var pre = document.createElement("pre");
  pre.id = "overlaps";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`

type textBox struct {
	S              string
	X0, Y0, X1, Y1 float64
}

func (b textBox) String() string {
	return fmt.Sprintf("%q at (%.0f,%.0f)–(%.0f,%.0f)", b.S, b.X0, b.Y0, b.X1, b.Y1)
}

// TestChartLabelsDoNotOverlap lays out every chart of the sample and the
// recorded reports in headless Chromium and checks that no two labels of
// one chart overlap, as the browser measures them. TCPLAB_CHARTS_PAGE=path
// keeps a copy of the page it lays out.
func TestChartLabelsDoNotOverlap(t *testing.T) {
	bin := chromiumBin(t)
	dir := t.TempDir()
	// One page holds the reports, so Chromium starts once.
	var doc strings.Builder
	want, pages := 0, overlapPages(t)
	for _, name := range []string{"sample", "latency", "latency-top", "recorded"} {
		rep := pages[name]
		var b bytes.Buffer
		if err := HTML(&b, rep); err != nil {
			t.Fatal(err)
		}
		for _, c := range charts(rep) {
			if c.SVG != "" {
				want++
			}
		}
		s := b.String()
		head, body, ok := strings.Cut(s, "<body>")
		body, _, ok2 := strings.Cut(body, "</body>")
		if !ok || !ok2 {
			t.Fatalf("%s: no <body> in the page", name)
		}
		if doc.Len() == 0 {
			doc.WriteString(head + "<body>")
		}
		fmt.Fprintf(&doc, `<div data-page="%s">%s</div>`, name, body)
	}
	doc.WriteString(overlapScript + "</body></html>")
	page := filepath.Join(dir, "charts.html")
	if err := os.WriteFile(page, []byte(doc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("TCPLAB_CHARTS_PAGE"); keep != "" {
		if err := os.WriteFile(keep, []byte(doc.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dom := string(runChromium(t, ctx, bin, dir, page, "--window-size=1280,2000", "--dump-dom"))

	m := regexp.MustCompile(`(?s)<pre id="overlaps">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the script wrote no result; the DOM ends:\n%s", dom[max(0, len(dom)-2000):])
	}
	var got struct {
		Charts, Texts int
		Pairs         []struct {
			Chart string
			A, B  textBox
			W, H  float64
		}
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &got); err != nil {
		t.Fatalf("%v in %s", err, m[1])
	}
	t.Logf("%d charts, %d labels measured", got.Charts, got.Texts)
	if got.Charts != want || got.Texts < 10*want {
		t.Errorf("measured %d charts with %d labels, want %d charts", got.Charts, got.Texts, want)
	}
	for _, p := range got.Pairs {
		t.Errorf("%s: %v overlaps %v by %.1f×%.1f", p.Chart, p.A, p.B, p.W, p.H)
	}
}
