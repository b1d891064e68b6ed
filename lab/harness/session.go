package harness

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// LabelLock names the lock file of the session that created a container or
// network, on the host named by LabelHost.
const LabelLock = "tcplab.lock"

// A session is one lab process's claim on what it creates: it holds an
// exclusive lock on its own file for as long as it lives, and every
// container and network it creates names that file (LabelLock). The
// operating system drops the lock when the process ends, however it ends
// (kill -9 included), so "can the lock be taken?" tells a dead session from
// a live one on Linux, macOS and Windows alike, cannot be fooled by a
// reused PID, and does not depend on where the Docker daemon runs.
type session struct {
	id   string
	lock *flock.Flock
}

// SessionDir is where sessions keep their lock files:
// os.UserCacheDir()/tcplab/sessions, or the temporary directory when the
// user has no cache directory.
func SessionDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "tcplab-sessions")
	}
	return filepath.Join(base, "tcplab", "sessions")
}

// newSession takes the lock of a fresh session before anything is created
// under its name, so a container of a session always outlives its lock's
// first taking.
func newSession() (*session, error) {
	dir := SessionDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("session lock directory: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b[:]))
	l := flock.New(filepath.Join(dir, id+".lock"))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("session lock %s: %w", l.Path(), err)
	}
	if !ok {
		return nil, fmt.Errorf("session lock %s is held by another process", l.Path())
	}
	return &session{id: id, lock: l}, nil
}

// release ends the session: its lock file is removed, so no clean-up will
// look for it again.
func (s *session) release() error {
	path := s.lock.Path()
	err := s.lock.Close()
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// liveness is what a cleaner can tell about a session from its labels.
type liveness int

const (
	live    liveness = iota // its lock is held: leave it alone
	dead                    // its lock could be taken: remove what it left
	foreign                 // made from another host (a remote daemon): unknowable here
	unowned                 // no lock of ours to test (an older tcplab, or another user's)
)

func (v liveness) String() string {
	return [...]string{"live", "dead", "other host", "no lock to test"}[v]
}

// judge tries the session's lock. When it is dead the returned lock is held
// (so the session cannot be judged twice at once) and the caller must
// release it with bury once everything is removed.
func judge(labels map[string]string, host, dir string) (liveness, *flock.Flock) {
	path := labels[LabelLock]
	switch {
	case labels[LabelSession] == "" || path == "":
		return unowned, nil // compose's containers, or an older tcplab's
	case labels[LabelHost] != host:
		return foreign, nil
	case filepath.Dir(path) != dir:
		return unowned, nil // another user's
	}
	l := flock.New(path)
	ok, err := l.TryLock()
	switch {
	case err != nil:
		return unowned, nil
	case !ok:
		return live, nil
	}
	return dead, l
}

// bury releases a dead session's lock and removes its file.
func bury(l *flock.Flock) {
	path := l.Path()
	_ = l.Close()
	_ = os.Remove(path)
}

// Claim is a session for code outside the harness that leaves something
// in Docker which must not outlive its owner (lab/netimpair's sidecars).
// Like a Lab's session it holds its lock file from creation to Release;
// the process's end, however it ends, drops the lock, so JudgeOwner can
// tell a dead owner's leftovers from a live one's. Label what you create
// with Labels (tcplab.session, tcplab.lock, tcplab.host: not tcplab=1, so
// Clean leaves them to their owner's package).
type Claim struct{ s *session }

// NewClaim takes a fresh claim's lock.
func NewClaim() (*Claim, error) {
	s, err := newSession()
	if err != nil {
		return nil, err
	}
	return &Claim{s: s}, nil
}

// Labels name the claim's lock and host for JudgeOwner.
func (c *Claim) Labels() map[string]string {
	host, _ := os.Hostname()
	return map[string]string{LabelSession: c.s.id, LabelLock: c.s.lock.Path(), LabelHost: host}
}

// Release drops the lock and removes its file. Releasing twice is a no-op.
func (c *Claim) Release() error {
	if c == nil || c.s == nil {
		return nil
	}
	err := c.s.release()
	c.s = nil
	return err
}

// JudgeOwner tells whether the owner of something labelled by a Claim
// (or a Lab) still lives: state is "live", "dead", "other host" (made
// from another machine against this daemon: unknowable here) or "no lock
// to test". When dead, done is non-nil and holds the dead owner's lock,
// so no other cleaner judges it at the same time: call it once what the
// owner left is removed (it removes the lock file).
func JudgeOwner(labels map[string]string) (state string, done func()) {
	host, _ := os.Hostname()
	v, l := judge(labels, host, SessionDir())
	if v != dead {
		return v.String(), nil
	}
	return v.String(), func() { bury(l) }
}
