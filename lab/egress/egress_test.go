package egress_test

import (
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/egress"
)

// Only "no route" counts as no way out; anything else is reported.
func TestUnreachable(t *testing.T) {
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "udp", Err: os.NewSyscallError("connect", errno)}
	}
	for _, tc := range []struct {
		name string
		err  error
		v6   bool
		want bool
	}{
		{"v4 unreachable", opErr(syscall.ENETUNREACH), false, true},
		{"v6 unreachable", opErr(syscall.ENETUNREACH), true, true},
		{"v6 without addresses", opErr(syscall.EADDRNOTAVAIL), true, true},
		{"v4 without addresses is something else", opErr(syscall.EADDRNOTAVAIL), false, false},
		{"permission", opErr(syscall.EPERM), false, false},
		{"host unreachable", opErr(syscall.EHOSTUNREACH), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, egress.Unreachable(tc.err, tc.v6))
		})
	}
}
