//go:build !container

package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/kernelrun"
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
