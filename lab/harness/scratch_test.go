package harness

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sweepScratch removes what a dead maker left and nothing a live one
// holds; flock(2) locks of two open files conflict within one process
// too, so a held lock here stands for a live maker. Docker-free (the
// SIGKILL itself is tests' TestKilledBeforeTheRun).
func TestSweepScratch(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name    string
		make    func(t *testing.T, parent string) (path string)
		removed bool
	}{
		{"live maker", func(t *testing.T, parent string) string {
			dir, done, err := newScratch(parent, "tcplab-image-")
			require.NoError(t, err)
			t.Cleanup(done)
			age(t, old, dir, dir+".lock")
			return dir
		}, false},
		{"dead maker", func(t *testing.T, parent string) string {
			dir := mkdir(t, parent, "tcplab-src-1")
			require.NoError(t, os.WriteFile(dir+".lock", nil, 0o644))
			age(t, old, dir, dir+".lock")
			return dir
		}, true},
		{"dead maker, just made", func(t *testing.T, parent string) string {
			dir := mkdir(t, parent, "tcplab-build-1")
			require.NoError(t, os.WriteFile(dir+".lock", nil, 0o644))
			return dir
		}, false},
		{"a lock whose directory went", func(t *testing.T, parent string) string {
			lock := filepath.Join(parent, "tcplab-image-2.lock")
			require.NoError(t, os.WriteFile(lock, nil, 0o644))
			age(t, old, lock)
			return lock
		}, true},
		{"no lock, an hour old", func(t *testing.T, parent string) string {
			dir := mkdir(t, parent, "tcplab-image-3")
			age(t, old, dir)
			return dir
		}, false},
		{"no lock, two days old", func(t *testing.T, parent string) string {
			dir := mkdir(t, parent, "tcplab-image-4")
			age(t, time.Now().Add(-48*time.Hour), dir)
			return dir
		}, true},
		{"not the lab's", func(t *testing.T, parent string) string {
			dir := mkdir(t, parent, "go-build-5")
			age(t, old, dir)
			return dir
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			path := tc.make(t, parent)
			n := sweepScratch(parent)
			_, err := os.Stat(path)
			assert.Equal(t, tc.removed, os.IsNotExist(err), "%s after the sweep: %v", path, err)
			if tc.removed {
				assert.Equal(t, 1, n)
				_, err := os.Stat(path + ".lock")
				assert.True(t, os.IsNotExist(err) || filepath.Ext(path) == ".lock", "its lock file stays: %v", err)
			} else {
				assert.Zero(t, n)
			}
		})
	}
}

// A live scratch directory's lock cannot be taken by a sweeper.
func TestNewScratchHoldsItsLock(t *testing.T) {
	dir, done, err := newScratch(t.TempDir(), "tcplab-image-")
	require.NoError(t, err)
	ok, err := flock.New(dir + ".lock").TryLock()
	require.NoError(t, err)
	assert.False(t, ok, "a second lock on a live scratch directory")
	done()
	assert.NoDirExists(t, dir)
	assert.NoFileExists(t, dir+".lock")
}

func mkdir(t *testing.T, parent, name string) string {
	dir := filepath.Join(parent, name)
	require.NoError(t, os.Mkdir(dir, 0o755))
	return dir
}

func age(t *testing.T, when time.Time, paths ...string) {
	for _, p := range paths {
		require.NoError(t, os.Chtimes(p, when, when))
	}
}
