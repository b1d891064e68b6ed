//go:build !container

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/compose"
	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// --out is checked before anything starts: a path that cannot be a
// directory is bad input (one line), and pcap/ is made only for --pcap.
func TestPrepareOut(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, tc := range []struct {
		name    string
		f       runFlags
		wantErr string // the whole message
		made    []string
		notMade []string
	}{
		{"no --out", runFlags{}, "", nil, nil},
		{"an existing file", runFlags{out: file}, "--out " + file + ": not a directory", nil, nil},
		{"under a file", runFlags{out: filepath.Join(file, "x")}, "--out " + filepath.Join(file, "x") + ": mkdir " + file + ": not a directory", nil, nil},
		{"a new directory", runFlags{out: filepath.Join(tmp, "r1")}, "", []string{"r1"}, []string{"r1/pcap"}},
		{"with --pcap", runFlags{out: filepath.Join(tmp, "r2"), pcap: true}, "", []string{"r2/pcap"}, nil},
		{"--pcap on kernels: each kernel's own pcap/", runFlags{out: filepath.Join(tmp, "r3"), pcap: true, kernels: []string{"6.1"}}, "", []string{"r3"}, []string{"r3/pcap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := prepareOut(&tc.f)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tc.wantErr, err.Error())
				return
			}
			require.NoError(t, err)
			for _, d := range tc.made {
				st, err := os.Stat(filepath.Join(tmp, d))
				if assert.NoError(t, err) {
					assert.True(t, st.IsDir(), d)
				}
			}
			for _, d := range tc.notMade {
				assert.NoDirExists(t, filepath.Join(tmp, d))
			}
		})
	}
}

// tcplab run --out writes what compose's results directory holds: a
// result file per run, named as compose names them, and report.txt beside
// report.json, report.md and report.html.
func TestWriteOut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		files []string // the result files, in order
	}{
		{"one run per row", []string{"dial-refused", "backlog-full"},
			[]string{"01-dial-refused.json", "02-backlog-full-1.json", "03-backlog-full-2.json"}},
		{"repetitions numbered as runs", []string{"backlog-full", "--count", "2"},
			[]string{"01-backlog-full-1.json", "02-backlog-full-1.json", "03-backlog-full-2.json", "04-backlog-full-2.json"}},
		{"a sweep", []string{"read-partial", "--vary", "impair.rtt=0s,10ms"},
			[]string{"01-read-partial-1.json", "02-read-partial-2.json"}},
		{"a single --set row", []string{"backlog-full", "--set", "server.somaxconn=8"},
			[]string{"01-backlog-full.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseRun(tc.args)
			require.NoError(t, err)
			rows, err := plan(f)
			require.NoError(t, err)
			dir := t.TempDir()
			stale := &scenario.Result{Schema: scenario.Schema, Scenario: "close-self"}
			b, _ := json.Marshal(stale)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "07-close-self.json"), b, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "08-notes.json"), []byte(`{"mine":true}`), 0o644))

			results := make([][]*scenario.Result, len(rows))
			rep := &report.Report{Schema: report.Schema}
			for i, pr := range rows {
				for range f.count {
					results[i] = append(results[i], &scenario.Result{Schema: scenario.Schema, Scenario: pr.Scenario.ID, OK: true})
				}
				rep.Rows = append(rep.Rows, report.NewRow(pr.Scenario, pr.Set, pr.Vary, results[i]))
			}
			require.NoError(t, writeOut(dir, rep, []byte("the table\n"), rows, results))

			var got []string
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				got = append(got, e.Name())
			}
			want := append([]string{"08-notes.json", "report.html", "report.json", "report.md", "report.txt"}, tc.files...)
			sort.Strings(want)
			assert.Equal(t, want, got, "the stale result goes, a file that is not a result stays")
			for _, name := range tc.files {
				var r scenario.Result
				b, err := os.ReadFile(filepath.Join(dir, name))
				require.NoError(t, err)
				require.NoError(t, json.Unmarshal(b, &r))
				assert.Equal(t, scenario.Schema, r.Schema, name)
			}
			txt, _ := os.ReadFile(filepath.Join(dir, "report.txt"))
			assert.Equal(t, "the table\n", string(txt))
			set, err := report.Load(dir, defaultKnobs)
			require.NoError(t, err)
			assert.Len(t, set.Report.Rows, len(rows), "tcplab report reads the directory back")
		})
	}
}

// Every scenario run once, as `tcplab run --out DIR` does by default,
// gives the file names compose's clients write.
func TestResultNamesAreCompose(t *testing.T) {
	f, err := parseRun(nil)
	require.NoError(t, err)
	rows, err := plan(f)
	require.NoError(t, err)
	results := make([][]*scenario.Result, len(rows))
	for i := range rows {
		results[i] = []*scenario.Result{{}}
	}
	var got, want []string
	for _, ns := range resultNames(rows, results) {
		got = append(got, ns...)
	}
	runs, err := compose.Runs(scenarios.All())
	require.NoError(t, err)
	for _, r := range runs {
		want = append(want, r.Result)
	}
	assert.Equal(t, want, got)
}
