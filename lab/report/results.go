package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// A results directory on disk: the tcplab.result/v1 files of one run of
// the lab (NN-<name>.json, one per run, as `tcplab run --out` and compose
// write them) and the report files beside them. Load reads one as a Set
// for Merge; FromFiles reads compose's into a Report; WriteFiles writes
// the report files both commands leave there.

// ReadResult reads one tcplab.result/v1 file.
func ReadResult(path string) (*scenario.Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no result %s (did its client run?)", filepath.Base(path))
	}
	var r scenario.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	return &r, nil
}

// FromFiles reads the named result files in dir (every *.json but
// report.json when none are named), one row per file in that order, each
// row with the knobs that differ from its scenario's defaults. A file that
// is missing or does not read is left out, with its error in errs.
func FromFiles(dir string, names []string) (rep *Report, errs []error) {
	if len(names) == 0 {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			if filepath.Base(f) != "report.json" {
				names = append(names, filepath.Base(f))
			}
		}
		sort.Strings(names)
	}
	rep = &Report{Schema: Schema}
	for _, n := range names {
		r, err := ReadResult(filepath.Join(dir, n))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sc, _ := scenarios.Lookup(r.Scenario)
		set := scenario.Knobs{}
		if sc != nil { // the row shows the knobs that differ from the scenario's defaults
			defaults, _ := sc.Resolve(nil)
			for k, v := range r.Knobs {
				if defaults[k] != v {
					set[k] = v
				}
			}
		}
		rep.Rows = append(rep.Rows, NewRow(sc, set, nil, []*scenario.Result{r}))
		rep.Kernel, rep.Platform = r.Kernel, r.Platform
		if rep.Started.IsZero() || r.Started.Before(rep.Started) {
			rep.Started = r.Started
		}
	}
	return rep, errs
}

// WriteFiles writes rep into dir as report.txt (table, the terminal table
// as printed), report.json, report.md and report.html. A file whose
// rendering fails is not written; the others are, and the errors are
// returned together.
func WriteFiles(dir string, rep *Report, table []byte) error {
	errs := []error{WriteFile(filepath.Join(dir, "report.txt"), table)}
	for _, f := range []struct {
		name   string
		render func(io.Writer, *Report) error
	}{{"report.json", JSON}, {"report.md", Markdown}, {"report.html", HTML}} {
		var b strings.Builder
		if err := f.render(&b, rep); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
			continue
		}
		errs = append(errs, WriteFile(filepath.Join(dir, f.name), []byte(b.String())))
	}
	return errors.Join(errs...)
}

// Defaults gives a scenario's default knobs, so rows that spell the same
// case differently (a case's knobs, or a result's every knob) line up. It
// may be nil.
type Defaults func(scenarioID string) scenario.Knobs

// Load reads a result set: DIR/report.json when present (or DIR itself if
// it names a report file), else every tcplab.result/v1 file in DIR.
func Load(dir string, defaults Defaults) (*Set, error) {
	set := &Set{Dir: dir}
	path := dir
	if st, err := os.Stat(dir); err != nil {
		return nil, err
	} else if st.IsDir() {
		path = filepath.Join(dir, "report.json")
	} else {
		set.Dir = filepath.Dir(dir)
	}
	rep, err := readReport(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if rep, err = reportOfResults(dir); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	set.keys = map[*Row]string{}
	for _, row := range rep.Rows {
		set.keys[row] = row.Scenario + " " + pairs(normalKnobs(row, defaults))
	}
	set.Report, set.Platform, set.Kernel = rep, rep.Platform, rep.Kernel
	for _, row := range rep.Rows {
		for _, r := range row.Results {
			if r != nil && set.Platform == "" {
				set.Platform = r.Platform
			}
			if r != nil && set.Kernel == "" {
				set.Kernel = r.Kernel
			}
		}
	}
	return set, nil
}

func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if rep.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q, want %q", path, rep.Schema, Schema)
	}
	return &rep, nil
}

// reportOfResults groups a directory's result files into rows, one per
// scenario and knob set, repetitions together.
func reportOfResults(dir string) (*Report, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	rep := &Report{Schema: Schema}
	at := map[string]*Row{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r scenario.Result
		if json.Unmarshal(b, &r) != nil || r.Schema != scenario.Schema {
			continue // not a result: another tool's file
		}
		key := r.Scenario + " " + pairs(r.Knobs)
		row := at[key]
		if row == nil {
			row = &Row{Scenario: r.Scenario, Set: r.Knobs}
			at[key] = row
			rep.Rows = append(rep.Rows, row)
		}
		row.Results = append(row.Results, &r)
	}
	if len(rep.Rows) == 0 {
		return nil, fmt.Errorf("%s: no report.json and no tcplab result files", dir)
	}
	for _, row := range rep.Rows {
		Aggregate(row)
	}
	return rep, nil
}

// normalKnobs is a row's knobs without those equal to the scenario's
// defaults: a case reads the same whether a report named its overrides or
// a result file listed every knob.
func normalKnobs(row *Row, defaults Defaults) scenario.Knobs {
	var def scenario.Knobs
	if defaults != nil {
		def = defaults(row.Scenario)
	}
	out := scenario.Knobs{}
	for k, v := range row.Set {
		if d, ok := def[k]; !ok || d != v {
			out[k] = v
		}
	}
	return out
}

func pairs(k scenario.Knobs) string {
	out := make([]string, 0, len(k))
	for n, v := range k {
		out = append(out, n+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
