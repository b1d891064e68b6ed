package report

import (
	"path/filepath"
	"sort"
)

// The lab promises the same numbers on every host. Merge puts result sets
// from several platforms side by side and flags what differs, so the
// promise is shown rather than claimed. It compares a report's rows,
// verdicts, checks and figures — never raw observation keys, whose shape
// belongs to each scenario.

// MergedSchema names the version of Merged's JSON form.
const MergedSchema = "tcplab.merged/v1"

// Status of a figure or check across sets.
const (
	Same    = "same"    // identical, or within the lab's tolerance (see newFigure)
	Differs = "differs" // outside the tolerance between sets
	Missing = "missing" // present in some sets only
)

// Set is one result set: a directory `tcplab run --out` or the compose
// lab wrote, read by Load.
type Set struct {
	Label    string  `json:"label"`    // the column heading: the platform, or the directory
	Dir      string  `json:"dir"`      // where it was read from
	Platform string  `json:"platform"` // os/arch the lab's binary ran as, if recorded
	Kernel   string  `json:"kernel"`   // the Docker host's kernel
	Report   *Report `json:"-"`

	keys map[*Row]string // each row's scenario and knobs without defaults, to line rows up
}

// Merged is the side-by-side view of several sets.
type Merged struct {
	Schema string       `json:"schema"`
	Sets   []*Set       `json:"sets"`
	Rows   []*MergedRow `json:"rows"`
	Flags  int          `json:"flags"` // verdicts, checks, figures and rows that differ
	// Notes explain differences between kernels (ExplainKernels).
	Notes []string `json:"notes,omitempty"`

	src map[*MergedRow][]*Row // each merged row's rows, per set
}

// MergedRow is one scenario case as each set saw it.
type MergedRow struct {
	Scenario string   `json:"scenario"`
	Knobs    string   `json:"knobs"`    // the overrides, sorted k=v
	Verdicts []string `json:"verdicts"` // per set: PASS, FAIL, LATE, NOT RUN, or "" when the set lacks the row
	Headline []string `json:"headline"` // per set: the first repetition's headline
	// Network is per set the mechanism and measured RTT of an impaired
	// row (networkText), "" where none was impaired.
	Network []string       `json:"network,omitempty"`
	Figures []MergedFigure `json:"figures"`
	Checks  []MergedCheck  `json:"checks"`
	Differs bool           `json:"differs"` // the row is missing somewhere or its verdicts differ (LATE is none)
	// Kernel holds the kernel settings that explain the row, per set
	// (ExplainKernels; only in a per-kernel comparison).
	Kernel []Fact `json:"kernel,omitempty"`
}

// MergedFigure is one figure per set; a nil cell means the set lacks it.
type MergedFigure struct {
	Name   string    `json:"name"`
	Cells  []*Figure `json:"cells"`
	Status string    `json:"status"`
	Noisy  bool      `json:"noisy,omitempty"` // some set is not reproducible on its own
}

// MergedCheck is one expectation's outcome per set: how many repetitions
// held it out of how many ran it.
type MergedCheck struct {
	Name   string   `json:"name"`
	Held   []int    `json:"held"`
	Ran    []int    `json:"ran"`
	Status string   `json:"status"`
	Detail []string `json:"detail"` // per set: the first failing detail, if any
}

// Merge lines the sets up row by row and flags every difference. Sets are
// labelled by platform, with the directory added where platforms repeat
// or are unknown, unless they come labelled (by kernel).
func Merge(sets []*Set) *Merged {
	label(sets)
	m := &Merged{Schema: MergedSchema, Sets: sets, src: map[*MergedRow][]*Row{}}
	byKey := map[string]*MergedRow{}
	rows := map[string][]*Row{}
	var keys []string
	for i, s := range sets {
		for _, row := range s.Report.Rows {
			key, ok := s.keys[row]
			if !ok { // a set built in Go rather than loaded
				key = row.Scenario + " " + pairs(row.Set)
			}
			if byKey[key] == nil {
				// shown with the knobs as the first set spelled them
				byKey[key] = &MergedRow{Scenario: row.Scenario, Knobs: pairs(row.Set)}
				rows[key] = make([]*Row, len(sets))
				m.Rows, keys = append(m.Rows, byKey[key]), append(keys, key)
			}
			if rows[key][i] == nil { // a repeated row keeps its first occurrence
				rows[key][i] = row
			}
		}
	}
	for i, mr := range m.Rows {
		mergeRow(mr, rows[keys[i]])
		m.src[mr] = rows[keys[i]]
		m.Flags += mr.flags()
	}
	return m
}

func label(sets []*Set) {
	seen, kernels := map[string]int{}, map[string]int{}
	for _, s := range sets {
		seen[s.Platform]++
		kernels[s.Kernel]++
	}
	for _, s := range sets {
		base := filepath.Base(filepath.Clean(s.Dir))
		switch {
		case s.Label != "":
		case seen[s.Platform] > 1 && s.Kernel != "" && kernels[s.Kernel] == 1:
			s.Label = s.Kernel // sets of one platform on different kernels
		case s.Platform == "":
			s.Label = base
		case seen[s.Platform] > 1:
			s.Label = s.Platform + " " + base
		default:
			s.Label = s.Platform
		}
	}
}

func mergeRow(mr *MergedRow, rows []*Row) {
	n := len(rows)
	mr.Verdicts, mr.Headline, mr.Network = make([]string, n), make([]string, n), make([]string, n)
	figs := map[string][]*Figure{}
	checks := map[string]*MergedCheck{}
	var figNames, checkNames []string
	for i, row := range rows {
		if row == nil {
			mr.Differs = true
			continue
		}
		mr.Verdicts[i], mr.Network[i] = row.Verdict, networkText(row)
		if len(row.Results) > 0 && row.Results[0] != nil {
			mr.Headline[i] = row.Results[0].Headline
		}
		for j := range row.Figures {
			f := &row.Figures[j]
			if figs[f.Name] == nil {
				figs[f.Name] = make([]*Figure, n)
				figNames = append(figNames, f.Name)
			}
			figs[f.Name][i] = f
		}
		for _, r := range row.Results {
			if r == nil {
				continue
			}
			for _, c := range r.Checks {
				mc := checks[c.Name]
				if mc == nil {
					mc = &MergedCheck{Name: c.Name, Held: make([]int, n), Ran: make([]int, n), Detail: make([]string, n)}
					checks[c.Name] = mc
					checkNames = append(checkNames, c.Name)
				}
				mc.Ran[i]++
				if c.OK {
					mc.Held[i]++
				} else if mc.Detail[i] == "" {
					mc.Detail[i] = c.Detail
				}
			}
		}
	}
	// A LATE row is no verdict, so it differs from none; nor are its
	// figures and checks, measured while the runner was late, compared.
	judged := ""
	for _, v := range mr.Verdicts {
		if v == "" || v == Late {
			continue
		}
		mr.Differs = mr.Differs || (judged != "" && v != judged)
		judged = v
	}
	sort.Strings(figNames)
	for _, name := range figNames {
		mr.Figures = append(mr.Figures, compareFigure(name, figs[name], rows))
	}
	for _, name := range checkNames {
		mc := checks[name]
		mc.Status = compareCheck(mc, rows)
		mr.Checks = append(mr.Checks, *mc)
	}
}

// compareFigure pools every set's values and judges them with the rule a
// single set's repetitions are judged by: identical or within tolerance is
// the same, and so is a spread no wider than a set's own scatter; anything
// else differs between sets.
func compareFigure(name string, cells []*Figure, rows []*Row) MergedFigure {
	mf := MergedFigure{Name: name, Cells: cells, Status: Same}
	var pooled []float64
	for i, c := range cells {
		if rows[i] != nil && rows[i].Verdict == Late {
			continue
		}
		if c == nil {
			if rows[i] != nil { // a set without the whole row is flagged once, on the row
				mf.Status = Missing
			}
			continue
		}
		pooled = append(pooled, c.Values...)
		mf.Noisy = mf.Noisy || c.Reproducibility == NotReproducible
	}
	if mf.Status == Missing || len(pooled) == 0 {
		return mf
	}
	if newFigure(name, pooled).Reproducibility == NotReproducible && !withinNoise(cells) {
		mf.Status = Differs
	}
	return mf
}

// withinNoise: a set that scatters on its own (write-block's autotuned
// bytes) is no evidence of a platform difference as long as every other
// set's range overlaps its range.
func withinNoise(cells []*Figure) bool {
	noisy := false
	for _, n := range cells {
		if n == nil || n.Reproducibility != NotReproducible {
			continue
		}
		noisy = true
		for _, c := range cells {
			if c != nil && (c.Max < n.Min || c.Min > n.Max) {
				return false
			}
		}
	}
	return noisy
}

// compareCheck: a check differs when it held in every repetition of one
// set and not of another; missing when a set that ran the row lacks it.
func compareCheck(mc *MergedCheck, rows []*Row) string {
	allHeld := -1
	for i, row := range rows {
		if row == nil || row.Verdict == Late {
			continue
		}
		if mc.Ran[i] == 0 {
			return Missing
		}
		h := 0
		if mc.Held[i] == mc.Ran[i] {
			h = 1
		}
		if allHeld >= 0 && h != allHeld {
			return Differs
		}
		allHeld = h
	}
	return Same
}

// flags counts the row's differences: the row itself (missing somewhere or
// verdicts differ), then each figure and check that is not the same.
func (mr *MergedRow) flags() int {
	n := 0
	if mr.Differs {
		n++
	}
	for _, f := range mr.Figures {
		if f.Status != Same {
			n++
		}
	}
	for _, c := range mr.Checks {
		if c.Status != Same {
			n++
		}
	}
	return n
}
