package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Markdown writes the report for pasting into an issue: a table per
// article section and the failed checks in full.
func Markdown(w io.Writer, r *Report) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "**tcplab report** — kernel `%s`, %s\n", r.Kernel, summary(r))
	for _, s := range sections(r) {
		fmt.Fprintf(&b, "\n### %s\n\n", s.Name)
		fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(columns, " | "), strings.Repeat("---|", len(columns)))
		for _, row := range s.Rows {
			v := viewOf(row)
			verdict := "❌ " + v.Verdict
			switch v.Verdict {
			case "PASS":
				verdict = "✅ PASS"
			case Late:
				verdict = "⏳ " + Late
			}
			knobs := code(v.Knobs)
			if v.Network != "" {
				knobs = strings.TrimPrefix(knobs+"<br>"+v.Network, "<br>")
			}
			cells := []string{verdict, "`" + v.Scenario + "`", knobs, v.Headline, strings.Join(v.Figures, "<br>"), v.Article}
			for i := range cells {
				cells[i] = mdCell(cells[i])
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	if fs := failures(r); len(fs) > 0 {
		fmt.Fprintf(&b, "\n### Failures\n\n")
		for _, f := range fs {
			head, rest, _ := strings.Cut(f.String(), "\n")
			fmt.Fprintf(&b, "- %s\n", head)
			if rest != "" {
				fmt.Fprintf(&b, "  ```\n  %s\n  ```\n", strings.ReplaceAll(rest, "\n", "\n  "))
			}
		}
	}
	if late := r.LateRows(); len(late) > 0 {
		fmt.Fprintf(&b, "\n### Not judged: the runner was late\n\n")
		for _, row := range late {
			fmt.Fprintf(&b, "- %s\n", LateLine(row))
			for _, c := range lateChecks(row) {
				fmt.Fprintf(&b, "  - failed while late: %s\n", firstLine(c))
			}
		}
	}
	if ms := unmeasured(r); len(ms) > 0 {
		fmt.Fprintf(&b, "\n### Not measured here\n\n")
		for _, m := range ms {
			fmt.Fprintf(&b, "- %s\n", firstLine(m.String()))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// mdCell keeps a value inside its table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
