package runner_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/runner"
)

// VmHWM grows by what the process touches: 64 MiB written raise it by at
// least 64 MiB.
func TestPeakRSSKiB(t *testing.T) {
	if runtime.GOOS != "linux" {
		_, err := runner.PeakRSSKiB()
		assert.Error(t, err, "no /proc here: an error, not a zero")
		return
	}
	before, err := runner.PeakRSSKiB()
	require.NoError(t, err)
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	after, err := runner.PeakRSSKiB()
	require.NoError(t, err)
	runtime.KeepAlive(buf)
	assert.GreaterOrEqual(t, after-before, int64(64<<10), "before %d KiB, after %d KiB", before, after)
}
