package egress_test

import (
	"errors"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcplab/tcplab/lab/egress"
)

// In a fresh network namespace (no routes at all) every lookup fails with
// the kernel's own ENETUNREACH, and Cut finds nothing to delete. The thread
// is locked and left to die with the namespace (Go then discards it).
func TestProbeInEmptyNamespace(t *testing.T) {
	done := make(chan struct{})
	var got string
	var cutErr, err error
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err = unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return
		}
		cutErr = egress.Cut()
		got = egress.Probe()
	}()
	<-done
	if errors.Is(err, syscall.EPERM) {
		t.Skip("unshare(CLONE_NEWNET) needs CAP_SYS_ADMIN; the container tests prove it instead")
	}
	require.NoError(t, err)
	assert.NoError(t, cutErr)
	assert.Equal(t, egress.None, got)
}
