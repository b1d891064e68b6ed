package harness

import (
	"errors"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/kernel"
)

// The daemons' own refusals (Docker's runc messages measured here; Podman's
// crun and rootless Docker word them alike) name the missing feature.
func TestStartError(t *testing.T) {
	arm := Platform{"linux", "arm64"}
	for _, tc := range []struct {
		daemon      string
		unsupported bool
		names       string
	}{
		{"Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: open /proc/sys/net/core/somaxconn: permission denied: unknown",
			true, "per-container net sysctls"},
		{`crun: sysctl "net.core.somaxconn" is not allowed in the hosts network namespace: OCI permission denied`,
			true, "per-container net sysctls"},
		{`Error response from daemon: invalid CapAdd: unknown capability: "CAP_NET_ADMIN"`, true, "NET_ADMIN"},
		{"failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/tcplab\": exec format error: unknown",
			true, "running linux/arm64 binaries"},
		{"context deadline exceeded", false, "context deadline exceeded"},
	} {
		err := startError(errors.New(tc.daemon+"\nsecond line"), arm)
		if errors.Is(err, ErrUnsupported) != tc.unsupported || !strings.Contains(err.Error(), tc.names) || strings.Contains(err.Error(), "\n") {
			t.Errorf("startError(%q) = %v; want one line naming %q (unsupported %v)", tc.daemon, err, tc.names, tc.unsupported)
		}
	}
}

func TestCheckFacts(t *testing.T) {
	amd := Platform{"linux", "amd64"}
	good := kernel.Facts{GOARCH: "amd64", Somaxconn: probeSomaxconn, NetAdmin: true}
	for _, tc := range []struct {
		name  string
		edit  func(*kernel.Facts)
		names string // "" for no error
	}{
		{"everything granted", func(*kernel.Facts) {}, ""},
		{"binary of another arch", func(f *kernel.Facts) { f.GOARCH = "arm64" }, `ran as "arm64"`},
		{"sysctl silently ignored", func(f *kernel.Facts) { f.Somaxconn = "4096" }, "per-container net sysctls are not applied"},
		{"no NET_ADMIN", func(f *kernel.Facts) { f.NetAdmin = false }, "NET_ADMIN"},
	} {
		f := good
		tc.edit(&f)
		err := checkFacts(f, amd)
		if tc.names == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.names) {
			t.Errorf("%s: %v; want ErrUnsupported naming %q", tc.name, err, tc.names)
		}
	}
}
