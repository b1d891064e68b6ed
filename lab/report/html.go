package report

import (
	"html/template"
	"io"
	"strings"
)

// HTML writes one self-contained page: inline CSS, the tables of Markdown
// and inline SVG charts drawn in Go — no scripts, fonts or links to fetch,
// so the file opens the same from a CI artifact or an air-gapped host.
func HTML(w io.Writer, r *Report) error {
	type htmlRow struct {
		rowView
		Title string
		Pairs []string
		Fail  bool
		Late  bool
		All   []Figure
	}
	type htmlSection struct {
		Name   string
		Rows   []htmlRow
		Charts []chart
	}
	cs := charts(r)
	var secs []htmlSection
	for _, s := range sections(r) {
		hs := htmlSection{Name: s.Name}
		for _, row := range s.Rows {
			late := row.Verdict == Late
			hs.Rows = append(hs.Rows, htmlRow{viewOf(row), row.Title, knobPairs(row), row.Verdict != "PASS" && !late, late, row.Figures})
		}
		for _, c := range cs {
			if c.Section == s.Rows[0].Section {
				hs.Charts = append(hs.Charts, c)
			}
		}
		secs = append(secs, hs)
	}
	var fails []string
	for _, f := range failures(r) {
		fails = append(fails, f.String())
	}
	var late []string
	for _, row := range r.LateRows() {
		late = append(late, strings.Join(append([]string{LateLine(row)}, lateChecks(row)...), "\nfailed while late: "))
	}
	return page.Execute(w, map[string]any{
		"Report": r, "Columns": columns, "Sections": secs, "Failures": fails, "Late": late, "Summary": summary(r),
	})
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"num": num,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tcplab report — {{.Report.Kernel}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#222;margin:24px auto;max-width:1200px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;margin:0 0 12px}.summary{font-weight:600}
table{border-collapse:collapse;width:100%;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #ddd;padding:5px 7px;text-align:left;vertical-align:top}th{background:#f4f4f4}
td.verdict{font-weight:700;color:#1a7f37}tr.fail td.verdict{color:#cf222e}tr.fail{background:#fff5f5}
tr.late td.verdict{color:#9a6700}tr.late{background:#fff8c5}
.sub{color:#666;font-size:12px}code{font-size:12px}.knob{white-space:nowrap}
details summary{cursor:pointer;color:#555;font-size:12px}details td{font-size:12px;padding:2px 5px}
figure{margin:12px 0;overflow-x:auto}.chart-note{color:#555;font-size:13px;margin:12px 0}
svg.chart{max-width:100%;height:auto;background:#fff;border:1px solid #e3e3e3;border-radius:4px}
svg .title{font-weight:600;font-size:14px;fill:#222}svg .subtitle{font-size:12px;fill:#666}svg .tick{font-size:11px;fill:#555}svg .label{font-size:12px;fill:#333}
svg .value,svg .marker,svg .legend{font-size:11px;fill:#333}
svg .grid{stroke:#eee}svg .axis{stroke:#444}svg .bar{fill:#4e79a7}svg .whisker{stroke:#222;stroke-width:1.5}
svg .slot{stroke:#e15759;stroke-width:1.5;stroke-dasharray:5 3}svg text.slot{fill:#c03a3c;stroke:none}
svg .giveup{stroke:#222;stroke-width:1.5;stroke-dasharray:2 2}svg text.giveup{fill:#222;stroke:none}
svg .series{fill:none;stroke-width:2}svg .ideal{stroke:#888;stroke-width:1.5;stroke-dasharray:4 3}svg .band{stroke:#bbb;stroke-width:1;stroke-dasharray:2 3}
svg .s0{stroke:#4e79a7}svg .s1{stroke:#f28e2b}svg .s2{stroke:#59a14f}svg .s3{stroke:#e15759}svg .s4{stroke:#76b7b2}svg .s5{stroke:#b07aa1}
svg .dot{stroke-width:1.5;fill:#fff}svg text.legend{stroke:none;font-weight:600}
svg text.s0{fill:#4e79a7}svg text.s1{fill:#f28e2b}svg text.s2{fill:#59a14f}svg text.s3{fill:#e15759}svg text.s4{fill:#76b7b2}svg text.s5{fill:#b07aa1}
svg .pk-syn{stroke:#4e79a7;fill:#4e79a7}svg .pk-synack{stroke:#59a14f;fill:#59a14f}svg .pk-rst{stroke:#e15759;fill:#e15759}
svg line.pk-syn,svg line.pk-synack,svg line.pk-rst{stroke-width:1.5;opacity:.8}svg text.label[class*=pk-]{stroke:none;font-weight:600}
pre{white-space:pre-wrap;margin:0;font-size:12px}ul.failures li{margin:4px 0}
</style></head><body>
<h1>tcplab report</h1>
<p class="meta">kernel <code>{{.Report.Kernel}}</code>{{if not .Report.Started.IsZero}} · started {{.Report.Started.Format "2006-01-02 15:04:05 MST"}}{{end}}{{if not .Report.Finished.IsZero}} · finished {{.Report.Finished.Format "15:04:05"}}{{end}} · <b>{{.Summary}}</b></p>
{{range .Sections}}<section>
<h2>{{.Name}}</h2>
<table><thead><tr>{{range $.Columns}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr{{if .Fail}} class="fail"{{else if .Late}} class="late"{{end}}><td class="verdict">{{.Verdict}}</td><td>{{.Scenario}}{{if .Title}}<div class="sub">{{.Title}}</div>{{end}}</td><td>{{range .Pairs}}<div class="knob"><code>{{.}}</code></div>{{end}}{{if .Network}}<div class="sub">{{.Network}}</div>{{end}}</td><td>{{.Headline}}</td>
<td>{{range .Figures}}<div>{{.}}</div>{{end}}{{if .All}}<details><summary>all {{len .All}} figures</summary><table>{{range .All}}<tr><td>{{.Name}}</td><td>{{range $i, $v := .Values}}{{if $i}}, {{end}}{{num $v}}{{end}}</td><td>{{.Reproducibility}}</td></tr>{{end}}</table></details>{{end}}</td>
<td>{{.Article}}</td></tr>
{{end}}</tbody></table>
{{range .Charts}}{{if .Note}}<p class="chart-note" data-chart="{{.Kind}}">{{.Note}}</p>{{else}}<figure>{{.SVG}}</figure>{{end}}
{{end}}</section>
{{end}}{{if .Failures}}<h2>Failures</h2>
<ul class="failures">{{range .Failures}}<li><pre>{{.}}</pre></li>{{end}}</ul>
{{end}}{{if .Late}}<h2>Not judged: the runner was late</h2>
<ul class="failures">{{range .Late}}<li><pre>{{.}}</pre></li>{{end}}</ul>
{{end}}<p class="summary">{{.Summary}}</p>
</body></html>
`))
