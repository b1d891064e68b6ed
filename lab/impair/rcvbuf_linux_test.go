package impair

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The delay line's queue wants a 16 MiB receive buffer. Root over the
// initial user namespace forces it past net.core.rmem_max; the root of a
// user namespace of its own (rootless Docker's NET_ADMIN) may not, and
// gets rmem_max instead of failing: before, every impaired run on
// rootless Docker failed "receive buffer: operation not permitted".
// Each case is a child process in a network namespace of its own, so the
// queue it binds is not the host's.
func TestSetRcvBuf(t *testing.T) {
	if os.Getenv("TCPLAB_RCVBUF_CHILD") != "" {
		rcvBufChild()
		return
	}
	for _, tc := range []struct {
		name   string
		flags  uintptr
		forced bool
	}{
		{"root over the initial user namespace", unix.CLONE_NEWNET, true},
		{"root of its own user namespace, as rootless Docker", unix.CLONE_NEWUSER | unix.CLONE_NEWNET, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSetRcvBuf$")
			cmd.Env = append(os.Environ(), "TCPLAB_RCVBUF_CHILD=1")
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: tc.flags}
			if tc.flags&unix.CLONE_NEWUSER != 0 {
				cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
				cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
			}
			out, err := cmd.CombinedOutput()
			if errors.Is(err, syscall.EPERM) || (tc.forced && os.Getuid() != 0) {
				t.Skipf("a child in a new network namespace needs root here (%v)", err)
			}
			require.NoError(t, err, "%s", out)
			m := regexp.MustCompile(`rcvbuf=(\d+) rmem_max=(\d+)`).FindStringSubmatch(string(out))
			require.NotNil(t, m, "the child said: %s", out)
			got, _ := strconv.Atoi(m[1])
			rmemMax, _ := strconv.Atoi(m[2])
			if tc.forced {
				assert.Equal(t, 2*queueRcvBuf, got, "forced past rmem_max %d", rmemMax)
				return
			}
			require.Less(t, rmemMax, queueRcvBuf, "this test needs rmem_max below the asked buffer")
			assert.Equal(t, 2*rmemMax, got, "as large as rmem_max allows")
		})
	}
}

func rcvBufChild() {
	nf, err := nfqueue.Open(&nfqueue.Config{NfQueue: queueNum, MaxQueueLen: 16, Copymode: nfqueue.NfQnlCopyMeta, AfFamily: unix.AF_INET, WriteTimeout: time.Second})
	if err != nil {
		fmt.Println("opening NFQUEUE:", err)
		os.Exit(1)
	}
	defer nf.Close()
	got, err := setRcvBuf(nf.Con, queueRcvBuf)
	if err != nil {
		fmt.Println("setRcvBuf:", err)
		os.Exit(1)
	}
	b, _ := os.ReadFile("/proc/sys/net/core/rmem_max")
	fmt.Printf("rcvbuf=%d rmem_max=%s\n", got, strings.TrimSpace(string(b)))
}
