package kernelrun_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/debian"
	"github.com/tcplab/tcplab/lab/kernelrun"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/topology"
	"github.com/tcplab/tcplab/lab/vm"
)

// TestParse: --kernel's names, and the one-line errors of bad input.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  error
	}{
		{"6.1,6.12,host", []string{"6.1", "6.12", "host"}, nil},
		{"6.12", []string{"6.12"}, nil},
		{"4.0", nil, kernelrun.ErrUnknown},
		{"6.1,linux", nil, kernelrun.ErrUnknown},
		{"", nil, kernelrun.ErrUnknown},
		{"6.1,6.1", nil, nil},
	} {
		got, err := kernelrun.Parse(tc.in)
		switch {
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("Parse(%q) = %v, want %v", tc.in, err, tc.err)
		case tc.want == nil && err == nil:
			t.Errorf("Parse(%q) = %v, want an error", tc.in, got)
		case tc.want != nil && (err != nil || len(got) != len(tc.want)):
			t.Errorf("Parse(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestHasLinearTimeouts(t *testing.T) {
	for rel, want := range map[string]bool{"6.1.0-56-cloud-amd64": false, "6.12.117+deb12-cloud-amd64": true,
		"6.5.0-1-amd64": true, "6.4.9": false, "5.15.0-91-generic": false, "7.0.1": true} {
		if got, err := kernelrun.HasLinearTimeouts(rel); err != nil || got != want {
			t.Errorf("HasLinearTimeouts(%q) = %v, %v, want %v", rel, got, err, want)
		}
	}
	if _, err := kernelrun.HasLinearTimeouts("unknown"); err == nil {
		t.Error("a release without a version passed")
	}
}

// TestConfig: the plan's hosts become namespaces owned by their agents,
// with the hosts' sysctls; other nodes join them; the client's exit ends
// the run; a capture is refused as unsupported.
func TestConfig(t *testing.T) {
	sc, err := scenarios.Lookup("backlog-full")
	if err != nil {
		t.Fatal(err)
	}
	for _, linear := range []bool{false, true} {
		tp, err := topology.Plan(sc, scenario.Knobs{"server.somaxconn": "16"}, topology.WithImage("vm:x"), topology.WithLinearSynTimeouts(linear))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := kernelrun.Config(tp)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range cfg.Roles {
			names = append(names, r.Name+"<"+r.NetnsOf+">"+r.Wait)
		}
		want := []string{"server<>ready", "server/server<server>ready", "client<>ready", "client/client<client>exit"}
		if len(names) != len(want) {
			t.Fatalf("roles %v, want %v", names, want)
		}
		for i := range want {
			if names[i] != want[i] {
				t.Errorf("roles %v, want %v", names, want)
			}
		}
		if got := cfg.Roles[0].Sysctls["net.core.somaxconn"]; got != "16" {
			t.Errorf("server somaxconn %q", got)
		}
		_, pinned := cfg.Roles[2].Sysctls[topology.LinearSysctl]
		if pinned != linear {
			t.Errorf("linear %v: client pins %s: %v", linear, topology.LinearSysctl, pinned)
		}
		if cfg.Roles[0].Args[0] != "agent" || cfg.Roles[3].Args[0] != "client" {
			t.Errorf("args %v %v", cfg.Roles[0].Args, cfg.Roles[3].Args)
		}
	}
	tp, err := topology.Plan(sc, nil, topology.WithImage("vm:x"), topology.WithCapture(filepath.Join(t.TempDir(), "c.pcap")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kernelrun.Config(tp); !errors.Is(err, kernelrun.ErrUnsupported) {
		t.Errorf("capture: %v, want ErrUnsupported", err)
	}
	// A scenario that shows Docker's port publishing is planned with its
	// published network, and refused without booting anything.
	for _, s := range scenarios.All() {
		if s.Published == nil {
			continue
		}
		r := &kernelrun.Runtime{Machine: &vm.Machine{Kernel: &debian.Kernel{Release: "6.1.0-56-cloud-amd64"}}}
		tp, err := r.Plan(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(context.Background(), tp); !errors.Is(err, kernelrun.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", s.ID, err)
		}
	}
}

// TestFindFailedDownload: on a host without apt, a kernel the archive
// does not serve fails in one line and leaves nothing in the cache.
func TestFindFailedDownload(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TCPLAB_KERNELS", dir)
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	spec, err := kernelrun.Lookup("6.1")
	if err != nil {
		t.Fatal(err)
	}
	f := &debian.Fetcher{Sources: []debian.Source{{URL: srv.URL, Suite: "bookworm", Component: "main"}}, Client: srv.Client()}
	_, err = kernelrun.Find(context.Background(), spec, f)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "kernel 6.1: ") {
		t.Fatalf("Find = %v, want one line starting with the kernel's name", err)
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("left in the cache: %v", left)
	}
}

// TestCached: the cache's newest package of a kernel in dpkg's order (what
// --kernel boots and the tests run on), whatever else the cache holds;
// ErrNotCached when it holds none.
func TestCached(t *testing.T) {
	for _, tc := range []struct {
		name, kernel string
		files        []string
		want         string // "" with ErrNotCached
	}{
		{"newest ABI by version, not by name", "6.1", []string{
			"linux-image-6.1.0-9-cloud-amd64-unsigned_6.1.9-1_amd64.deb",
			"linux-image-6.1.0-10-cloud-amd64-unsigned_6.1.10-1_amd64.deb",
			"linux-image-6.12.10+deb12-cloud-amd64-unsigned_6.12.10-1~deb12u1_amd64.deb",
		}, "linux-image-6.1.0-10-cloud-amd64-unsigned_6.1.10-1_amd64.deb"},
		{"a backport before its plain version", "6.12", []string{
			"linux-image-6.12.10+deb12-cloud-amd64-unsigned_6.12.10-1~deb12u1_amd64.deb",
			"linux-image-6.12.10+deb12-cloud-amd64-unsigned_6.12.10-1_amd64.deb",
			"linux-image-6.12.9+deb12-cloud-amd64-unsigned_6.12.9-1_amd64.deb",
		}, "linux-image-6.12.10+deb12-cloud-amd64-unsigned_6.12.10-1_amd64.deb"},
		{"other kernels only", "6.12", []string{
			"linux-image-6.1.0-10-cloud-amd64-unsigned_6.1.10-1_amd64.deb",
			"linux-image-6.12.10+deb12-amd64-unsigned_6.12.10-1_amd64.deb",
		}, ""},
		{"empty", "6.1", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("TCPLAB_KERNELS", dir)
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			spec, err := kernelrun.Lookup(tc.kernel)
			if err != nil {
				t.Fatal(err)
			}
			got, err := kernelrun.Cached(spec)
			if tc.want == "" {
				if !errors.Is(err, kernelrun.ErrNotCached) || strings.Contains(err.Error(), "\n") {
					t.Errorf("Cached = %q, %v; want one line with ErrNotCached", got, err)
				}
				return
			}
			if err != nil || got != filepath.Join(dir, tc.want) {
				t.Errorf("Cached = %q, %v; want %s", got, err, tc.want)
			}
		})
	}
}
