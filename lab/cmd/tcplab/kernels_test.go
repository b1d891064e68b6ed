//go:build !container

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/kernelrun"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// TestParseKernel: --kernel, --vary kernel=… and --set kernel=… name the
// same thing; bad names fail before anything starts.
func TestParseKernel(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // kernels joined, or the error's start
		err  error
	}{
		{[]string{"backlog-full", "--kernel", "6.1,6.12,host"}, "6.1 6.12 host", nil},
		{[]string{"--vary", "kernel=6.1,host", "backlog-full"}, "6.1 host", nil},
		{[]string{"--set", "kernel=6.12", "--vary", "server.somaxconn=16,32"}, "6.12", nil},
		{[]string{"--kernel", "4.0"}, "", kernelrun.ErrUnknown},
		{[]string{"--vary", "kernel=6.1,bsd"}, "", kernelrun.ErrUnknown},
		{[]string{"--kernel", "6.1", "--vary", "kernel=6.1"}, "", nil},
	} {
		f, err := parseRun(tc.args)
		switch {
		case tc.err != nil || tc.want == "":
			if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("%v: %v, want an error %v", tc.args, err, tc.err)
			}
		case err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case strings.Join(f.kernels, " ") != tc.want:
			t.Errorf("%v: kernels %v, want %s", tc.args, f.kernels, tc.want)
		case f.set["kernel"] != "" || len(f.vary) > 1:
			t.Errorf("%v: the kernel stayed a knob: set %v vary %v", tc.args, f.set, f.vary)
		}
	}
}

// TestKernelResult: every result of a VM kernel names the package it
// booted, NAME=VERSION, also when the VM gave none back; the host's names
// none; the guest's own release is kept.
func TestKernelResult(t *testing.T) {
	const pkg = "linux-image-6.1.0-0-test-amd64-unsigned=6.1.0-1"
	vmSide := &kernelSide{name: "6.1", release: "6.1.0-0-test-amd64", pkg: pkg}
	hostSide := &kernelSide{name: kernelrun.Host, release: "6.18.44"}
	sc, err := scenarios.Lookup("backlog-full")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                  string
		side                  *kernelSide
		res                   *scenario.Result
		err                   error
		kernel, pkg, headline string
		ok                    bool
	}{
		{"a VM's result", vmSide, &scenario.Result{Kernel: "6.1.0-0-test-amd64", OK: true, Headline: "17 at once"}, nil, "6.1.0-0-test-amd64", pkg, "17 at once", true},
		{"a VM that gave no result", vmSide, nil, errors.New("vm: the guest panicked"), "6.1.0-0-test-amd64", pkg, "", false},
		{"a plan a VM cannot run", vmSide, nil, fmt.Errorf("%w: a capture", kernelrun.ErrUnsupported), "6.1.0-0-test-amd64", pkg, "not run: not supported on a VM kernel: a capture", false},
		{"the host's result", hostSide, &scenario.Result{Kernel: "6.18.44", OK: true}, nil, "6.18.44", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.side.result(tc.res, tc.err, sc, nil)
			if got.Kernel != tc.kernel || got.KernelPackage != tc.pkg || got.Headline != tc.headline || got.OK != tc.ok {
				t.Errorf("kernel %q, package %q, headline %q, ok %v; want %q, %q, %q, %v", got.Kernel, got.KernelPackage, got.Headline, got.OK, tc.kernel, tc.pkg, tc.headline, tc.ok)
			}
			if tc.err != nil && got.Error != tc.err.Error() {
				t.Errorf("error %q, want %q", got.Error, tc.err)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if has := strings.Contains(string(b), `"kernel_package":`); has != (tc.pkg != "") {
				t.Errorf("JSON %s: kernel_package present %v, want %v", b, has, tc.pkg != "")
			}
		})
	}
}
