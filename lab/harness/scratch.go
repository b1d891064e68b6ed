package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// Scratch directories: where the lab binary is compiled and the image's
// build context written before a run starts. A process killed then (kill
// -9, a CI job's timeout) never runs its deferred RemoveAll, so each
// scratch directory has a lock file beside it (DIR.lock), held by its
// maker until it removes both: the next lab's start and `tcplab clean`
// remove the directories whose lock can be taken, as they do a dead
// session's containers.

// scratchPrefixes name every scratch directory the lab makes, below
// os.TempDir() and the binary cache's directories.
var scratchPrefixes = []string{"tcplab-image-", "tcplab-src-", "tcplab-build-"}

// lockGrace spares a session's lock file, or a scratch directory, whose
// maker may have created it and not yet taken its lock (microseconds).
const lockGrace = 5 * time.Second

// newScratch makes a scratch directory in parent (os.TempDir() when
// empty), named prefix plus a random suffix, and holds its lock; done
// removes the directory and its lock file.
func newScratch(parent, prefix string) (dir string, done func(), err error) {
	dir, err = os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", nil, err
	}
	l := flock.New(dir + ".lock")
	if ok, err := l.TryLock(); err != nil || !ok {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("scratch directory %s: lock: %w", dir, errors.Join(err, errors.New("held by another process")))
	}
	return dir, func() {
		_ = os.RemoveAll(dir)
		_ = l.Close()
		_ = os.Remove(l.Path())
	}, nil
}

// scratchParents are the directories scratch directories are made in: the
// temporary directory, and each cached binary's directory (compileSource
// builds there, beside its target, so the rename into place is atomic).
func scratchParents() []string {
	parents := []string{os.TempDir()}
	if cache, err := os.UserCacheDir(); err == nil {
		bins, _ := filepath.Glob(filepath.Join(cache, "tcplab", "bin", "*"))
		parents = append(parents, bins...)
	}
	return parents
}

// SweepScratch removes the scratch directories of dead makers in the
// usual places and reports how many it removed.
func SweepScratch() int { return sweepScratch(scratchParents()...) }

// sweepScratch removes the scratch directories in parents whose lock can
// be taken, with their lock files. A directory without a lock file (made
// by a tcplab from before the locks) goes once it is a day old.
func sweepScratch(parents ...string) int {
	n := 0
	for _, parent := range parents {
		for _, prefix := range scratchPrefixes {
			dirs, _ := filepath.Glob(filepath.Join(parent, prefix+"*"))
			for _, dir := range dirs {
				st, err := os.Lstat(dir)
				if err != nil || time.Since(st.ModTime()) < lockGrace {
					continue
				}
				if !st.IsDir() {
					// A lock file whose directory is gone: its maker was
					// killed between removing the one and the other.
					if d, ok := strings.CutSuffix(dir, ".lock"); ok && !exists(d) && take(dir) {
						n++
					}
					continue
				}
				lock := dir + ".lock"
				if _, err := os.Stat(lock); errors.Is(err, os.ErrNotExist) {
					if time.Since(st.ModTime()) > 24*time.Hour && os.RemoveAll(dir) == nil {
						n++
					}
					continue
				}
				l := flock.New(lock)
				if ok, err := l.TryLock(); err != nil || !ok {
					continue // its maker lives
				}
				if os.RemoveAll(dir) == nil {
					n++
				}
				_ = l.Close()
				_ = os.Remove(lock)
			}
		}
	}
	return n
}

func exists(path string) bool { _, err := os.Lstat(path); return err == nil }

// take removes the lock file at path when no process holds it.
func take(path string) bool {
	l := flock.New(path)
	if ok, err := l.TryLock(); err != nil || !ok {
		return false
	}
	_ = l.Close()
	return os.Remove(path) == nil
}
