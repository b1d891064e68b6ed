package harness

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// machineGate extends the pacer's one promise that matters most across
// processes on one machine: no container op starts while a timer-sensitive
// measurement runs. `go test ./...` runs packages side by side, and a
// user may run `tcplab run` beside it; each process has its own pacer. A
// process holds a shared lock on one file while any of its Quiet or Alone
// measurements runs; before an op, another process takes that lock
// exclusively for an instant, which it gets only while nobody measures.
// The operating system drops a dead process's lock.
type machineGate struct {
	mu     sync.Mutex
	n      int          // this process's measurements running
	shared *flock.Flock // held shared while n > 0
	probe  *flock.Flock // a second descriptor, for the instant exclusive take
}

// newMachineGate uses dir/measure.lock; nil (no gate) if dir is unusable.
func newMachineGate(dir string) *machineGate {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil
	}
	path := filepath.Join(dir, "measure.lock")
	return &machineGate{shared: flock.New(path), probe: flock.New(path)}
}

// measuring marks a measurement of this process as running until release.
func (g *machineGate) measuring() (release func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		// Shared: never waits but for an instant's exclusive take.
		if err := g.shared.RLock(); err != nil {
			return func() {}
		}
	}
	g.n++
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.n--; g.n == 0 {
			_ = g.shared.Unlock()
		}
	}
}

// gatePoll is how often an op looks whether other processes still measure.
const gatePoll = 20 * time.Millisecond

// waitIdle returns once no other process measures (this process must not
// be measuring itself: its own lock would hold it forever).
func (g *machineGate) waitIdle() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		ok, err := g.probe.TryLock()
		if err != nil {
			return // no gate is better than a stuck op
		}
		if ok {
			_ = g.probe.Unlock()
			return
		}
		g.mu.Unlock()
		time.Sleep(gatePoll)
		g.mu.Lock()
	}
}
