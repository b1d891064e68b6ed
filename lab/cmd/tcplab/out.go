//go:build !container

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tcplab/tcplab/lab/pcap"
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
)

// prepareOut makes --out's directory, and pcap/ in it only when --pcap
// asks for captures (with --kernel each kernel's directory holds its own).
// It runs before Docker is asked anything: a path that cannot be a
// directory is bad input, said in one line.
func prepareOut(f *runFlags) error {
	if f.out == "" {
		return nil
	}
	dir := f.out
	if f.pcap && len(f.kernels) == 0 {
		dir = filepath.Join(f.out, "pcap")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && filepath.Clean(pe.Path) == filepath.Clean(f.out) {
			err = pe.Err // "--out x: not a directory", not "--out x: mkdir x: not a directory"
		}
		return fmt.Errorf("--out %s: %w", f.out, err)
	}
	return nil
}

// writeOut writes what compose's results directory holds too: one
// tcplab.result/v1 file per run, named as compose names them (NN-<name>.json,
// NN the run's number, <name> the scenario with its row's number where it
// has several rows), and the report as report.txt (the table printed),
// report.json, report.md and report.html. Result files an earlier run left
// there are removed first, so the directory is one run's.
func writeOut(dir string, rep *report.Report, table []byte, rows []planner.Row, results [][]*scenario.Result) error {
	old, _ := filepath.Glob(filepath.Join(dir, "[0-9]*-*.json"))
	for _, p := range old {
		if isResultFile(p) {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	names := resultNames(rows, results)
	for i, rs := range results {
		for j, r := range rs {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := report.WriteFile(filepath.Join(dir, names[i][j]), append(b, '\n')); err != nil {
				return err
			}
		}
	}
	return report.WriteFiles(dir, rep, table)
}

// resultNames names every run's result file, rows in order and each row's
// repetitions together: with one run per row and every scenario's cases,
// the names are compose's (lab/cmd/tcplab compose).
func resultNames(rows []planner.Row, results [][]*scenario.Result) [][]string {
	ids := make([]string, len(rows))
	total := 0
	for i, pr := range rows {
		ids[i] = pr.Scenario.ID
		total += len(results[i])
	}
	width := max(2, len(strconv.Itoa(total))) // so the names sort in run order
	names := make([][]string, len(rows))
	n := 0
	for i, name := range planner.Names(ids) {
		for range results[i] {
			n++
			names[i] = append(names[i], fmt.Sprintf("%0*d-%s.json", width, n, name))
		}
	}
	return names
}

// isResultFile reports whether path holds a tcplab.result/v1 document.
func isResultFile(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var r struct{ Schema string }
	return json.Unmarshal(b, &r) == nil && r.Schema == scenario.Schema
}

// timeline turns a capture into the report's packet list: the set-up and
// tear-down packets (SYN, SYN-ACK, RST, FIN) with their times.
func timeline(path string) []report.Packet {
	recs, err := pcap.ReadFile(path)
	if err != nil || len(recs) == 0 {
		return nil
	}
	t0 := recs[0].At
	var out []report.Packet
	for _, r := range recs {
		s := r.Segment
		if s.Flags&0x07 == 0 { // no SYN, RST or FIN
			continue
		}
		dir := "out"
		if s.DstPort == scenario.Port {
			dir = "in"
		}
		out = append(out, report.Packet{AtMS: scenario.Ms(r.At.Sub(t0)), Dir: dir, Flags: pcap.FlagString(s.Flags),
			Src: fmt.Sprintf("%s:%d", s.Src, s.SrcPort), Dst: fmt.Sprintf("%s:%d", s.Dst, s.DstPort), Len: r.Length})
		if len(out) == 500 {
			break
		}
	}
	return out
}
