//go:build !container

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/report"
	"github.com/tcplab/tcplab/lab/scenario"
)

// --out on a full disk: writeOut stops with ENOSPC (one line, naming the
// file), and every file the directory holds is whole: a result file that
// did not fit is absent, not cut short, and no temporary file is left.
// The disk is a 64 KiB tmpfs, so the test needs root (it skips without).
func TestWriteOutFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0755"); err != nil {
		t.Skipf("a small tmpfs for a full disk needs root (mount: %v)", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })

	f, err := parseRun([]string{"backlog-full", "--count", "4"})
	require.NoError(t, err)
	rows, err := plan(f)
	require.NoError(t, err)
	results := make([][]*scenario.Result, len(rows))
	rep := &report.Report{Schema: report.Schema}
	for i, pr := range rows {
		for range f.count {
			// A result as large as a real one: several KiB of JSON, so a
			// half-written file would be easy to make.
			results[i] = append(results[i], &scenario.Result{Schema: scenario.Schema, Scenario: pr.Scenario.ID, OK: true, Headline: strings.Repeat("x", 6000)})
		}
		rep.Rows = append(rep.Rows, report.NewRow(pr.Scenario, pr.Set, pr.Vary, results[i]))
	}

	// Fill the disk but for room for about two results.
	filler := filepath.Join(dir, "filler")
	fill, err := os.Create(filler)
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte{0}, 4096)
	for {
		if _, err := fill.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	st, err := fill.Stat()
	require.NoError(t, err)
	require.NoError(t, fill.Truncate(st.Size()-16<<10))
	require.NoError(t, fill.Close())

	err = writeOut(dir, rep, []byte("the table\n"), rows, results)
	require.Error(t, err, "8 results of 6 KB cannot fit in 16 KiB")
	assert.True(t, errors.Is(err, syscall.ENOSPC), "the error says the disk is full: %v", err)
	assert.NotContains(t, err.Error(), "\n", "one line")
	assert.Contains(t, err.Error(), dir, "it names the file")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	whole := 0
	for _, e := range entries {
		if e.Name() == "filler" {
			continue
		}
		assert.False(t, strings.HasSuffix(e.Name(), ".tmp"), "a temporary file is left: %s", e.Name())
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		var r scenario.Result
		if assert.NoError(t, json.Unmarshal(b, &r), "%s is cut short (%d bytes)", e.Name(), len(b)) {
			whole++
		}
	}
	assert.Positive(t, whole, "the results that fitted are there")
}
