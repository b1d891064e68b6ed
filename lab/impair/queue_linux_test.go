package impair

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The kernel's refusals of the delay line's rule, as measured: a kernel
// without xt_NFQUEUE (Debian's 6.1 booted without the module) fails the
// flush with ENOENT wrapped by the netlink library; a missing capability
// with EPERM.
func TestRuleError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		noQueue bool
		says    string
	}{
		{"no NFQUEUE target", fmt.Errorf("netlink receive: %w", unix.ENOENT), true, "no NFQUEUE"},
		{"no capability", fmt.Errorf("netlink receive: %w", unix.EPERM), false, "CAP_NET_ADMIN"},
	} {
		err := ruleError(tc.err)
		if errors.Is(err, ErrNoQueue) != tc.noQueue || !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: ruleError = %v; want ErrNoQueue %v, the cause kept, naming %q", tc.name, err, tc.noQueue, tc.says)
		}
	}
	if ruleError(nil) != nil {
		t.Error("ruleError(nil) is not nil")
	}
}
