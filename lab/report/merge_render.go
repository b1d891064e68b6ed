package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
	"text/tabwriter"
)

// Renderers of a Merged report. Every one shows each row's verdicts per
// set; the terminal lists under a row only what differs, Markdown, HTML and
// JSON carry every figure and check.

// mergedLine is one line of a merged table: a row, or a figure or check
// under it.
type mergedLine struct {
	Row         bool   // a scenario row (else a figure or check under it)
	Flagged     bool   // differs between sets
	Flag        string // "≠" when flagged
	Name, Knobs string
	Cells       []string // one per set
	Status      string
}

func mergedLines(m *Merged, all bool) []mergedLine {
	var out []mergedLine
	for _, mr := range m.Rows {
		l := mergedLine{Row: true, Name: mr.Scenario, Knobs: mr.Knobs, Status: Same, Flagged: mr.Differs}
		for i, v := range mr.Verdicts {
			if v == "" {
				v = "—"
				l.Status = Missing + " in " + m.Sets[i].Label
			} else if i < len(mr.Network) && mr.Network[i] != "" {
				v += " [" + mr.Network[i] + "]"
			}
			l.Cells = append(l.Cells, v)
		}
		if l.Status == Same && mr.Differs {
			l.Status = "verdicts " + Differs
		}
		for i, v := range mr.Verdicts {
			if v == Late && l.Status == Same {
				l.Status = "not judged in " + m.Sets[i].Label + " (the runner was late)"
			}
		}
		out = append(out, l)
		for _, k := range mr.Kernel {
			kl := mergedLine{Name: "kernel: " + k.Name, Cells: k.Cells, Status: Same, Flagged: k.Differs}
			switch {
			case k.Differs:
				kl.Status = Differs + ": " + k.Explain
			case k.Explain != "":
				kl.Status = k.Explain
			}
			out = append(out, kl)
		}
		for _, f := range mr.Figures {
			if !all && f.Status == Same {
				continue
			}
			fl := mergedLine{Name: f.Name, Status: f.Status, Flagged: f.Status != Same}
			if f.Noisy && f.Status != Same {
				fl.Status += " (varies within a set too)"
			}
			for _, c := range f.Cells {
				fl.Cells = append(fl.Cells, cellText(c))
			}
			out = append(out, fl)
		}
		for _, c := range mr.Checks {
			if !all && c.Status == Same {
				continue
			}
			cl := mergedLine{Name: "check: " + c.Name, Status: c.Status, Flagged: c.Status != Same}
			for i := range c.Ran {
				cell := "—"
				if c.Ran[i] > 0 {
					cell = fmt.Sprintf("held %d/%d", c.Held[i], c.Ran[i])
				}
				cl.Cells = append(cl.Cells, cell)
			}
			out = append(out, cl)
		}
	}
	for i := range out {
		if out[i].Flagged {
			out[i].Flag = "≠"
		}
	}
	return out
}

// cellText is a figure as one set saw it: its value when the repetitions
// agreed, else min/median/max.
func cellText(f *Figure) string {
	switch {
	case f == nil:
		return "—"
	case f.Reproducibility == Identical || len(f.Values) < 2:
		return num(f.Median)
	}
	return num(f.Min) + "/" + num(f.Median) + "/" + num(f.Max)
}

// mergedSummary is the closing line: how many rows and what differs.
func mergedSummary(m *Merged) string {
	rows := 0
	for _, mr := range m.Rows {
		if mr.flags() > 0 {
			rows++
		}
	}
	if m.Flags == 0 {
		return fmt.Sprintf("%d rows across %d sets: every verdict, check and figure the same", len(m.Rows), len(m.Sets))
	}
	return fmt.Sprintf("%d rows across %d sets: %d differences in %d rows (flagged ≠)", len(m.Rows), len(m.Sets), m.Flags, rows)
}

func setLines(m *Merged) []string {
	var out []string
	for _, s := range m.Sets {
		p := s.Platform
		if p == "" {
			p = "platform not recorded"
		}
		out = append(out, fmt.Sprintf("%s: %s, kernel %s, %d rows, from %s", s.Label, p, s.Kernel, len(s.Report.Rows), s.Dir))
	}
	return out
}

// MergedTerminal writes the sets, a table of rows with what differs under
// each, and the summary line.
func MergedTerminal(w io.Writer, m *Merged) error {
	var b bytes.Buffer
	for _, l := range setLines(m) {
		fmt.Fprintln(&b, "set "+l)
	}
	fmt.Fprintln(&b)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	head := []string{"", "SCENARIO", "KNOBS"}
	for _, s := range m.Sets {
		head = append(head, s.Label)
	}
	fmt.Fprintln(tw, strings.Join(append(head, "ACROSS SETS"), "\t"))
	for _, l := range mergedLines(m, false) {
		name := l.Name
		if !l.Row {
			name = "  " + name
		}
		cells := append([]string{l.Flag, name, l.Knobs}, l.Cells...)
		fmt.Fprintln(tw, strings.Join(append(cells, l.Status), "\t"))
	}
	tw.Flush()
	fmt.Fprintln(&b, mergedSummary(m))
	for _, n := range m.Notes {
		fmt.Fprintln(&b, "note: "+n)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// MergedMarkdown writes the merge for an issue or a CI summary: the sets,
// then one table with every row, figure and check.
func MergedMarkdown(w io.Writer, m *Merged) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "**tcplab merged report** — %s\n\n", mergedSummary(m))
	for _, l := range setLines(m) {
		fmt.Fprintf(&b, "- %s\n", mdCell(l))
	}
	head := []string{"", "scenario / figure", "knobs"}
	for _, s := range m.Sets {
		head = append(head, mdCell(s.Label))
	}
	head = append(head, "across sets")
	fmt.Fprintf(&b, "\n| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, l := range mergedLines(m, true) {
		name := mdCell(l.Name)
		if l.Row {
			name = "**`" + name + "`**"
		}
		cells := append([]string{l.Flag, name, code(mdCell(l.Knobs))}, l.Cells...)
		for i := 3; i < len(cells); i++ {
			cells[i] = mdCell(cells[i])
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(append(cells, mdCell(l.Status)), " | "))
	}
	if len(m.Notes) > 0 {
		b.WriteString("\n")
	}
	for _, n := range m.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// MergedJSON writes the merge, indented.
func MergedJSON(w io.Writer, m *Merged) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// MergedHTML writes one self-contained page: the Markdown table as HTML,
// flagged lines highlighted.
func MergedHTML(w io.Writer, m *Merged) error {
	var b bytes.Buffer
	e := html.EscapeString
	b.WriteString("<!doctype html><meta charset=utf-8><title>tcplab merged report</title>\n<style>" +
		"body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}" +
		"td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}tr.row td{font-weight:600;background:#f4f4f4}" +
		"tr.flag td{background:#ffe9c7}td.sub{padding-left:2em}</style>\n")
	fmt.Fprintf(&b, "<h1>tcplab merged report</h1>\n<p>%s</p>\n<ul>\n", e(mergedSummary(m)))
	for _, l := range setLines(m) {
		fmt.Fprintf(&b, "<li>%s</li>\n", e(l))
	}
	b.WriteString("</ul>\n<table>\n<tr><th></th><th>scenario / figure</th><th>knobs</th>")
	for _, s := range m.Sets {
		fmt.Fprintf(&b, "<th>%s</th>", e(s.Label))
	}
	b.WriteString("<th>across sets</th></tr>\n")
	for _, l := range mergedLines(m, true) {
		class, sub := "", " class=sub"
		if l.Row {
			class, sub = "row", ""
		}
		if l.Flagged {
			class += " flag"
		}
		fmt.Fprintf(&b, "<tr class=%q><td>%s</td><td%s>%s</td><td>%s</td>", strings.TrimSpace(class), e(l.Flag), sub, e(l.Name), e(l.Knobs))
		for _, c := range l.Cells {
			fmt.Fprintf(&b, "<td>%s</td>", e(c))
		}
		fmt.Fprintf(&b, "<td>%s</td></tr>\n", e(l.Status))
	}
	b.WriteString("</table>\n")
	for _, n := range m.Notes {
		fmt.Fprintf(&b, "<p>%s</p>\n", e(n))
	}
	_, err := w.Write(b.Bytes())
	return err
}
