package vm_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/vm"
)

func TestQEMUMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := vm.QEMUPath()
	if !errors.Is(err, vm.ErrNoQEMU) {
		t.Fatalf("QEMUPath with an empty PATH: %v, want ErrNoQEMU", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "install") {
		t.Errorf("want one line saying how to install QEMU, got %q", msg)
	}
}

// entry is a parsed newc header.
type entry struct {
	name                 string
	mode, size, maj, min uint64
}

// parseNewc reads back a newc archive checking the format the kernel
// expects: magic, 4-byte alignment of headers and data, a trailer last.
func parseNewc(t *testing.T, b []byte) []entry {
	var out []entry
	off := 0
	for {
		if off%4 != 0 || off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad header at %d", off)
		}
		field := func(i int) uint64 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		e := entry{mode: field(1), size: field(6), maj: field(9), min: field(10)}
		nameLen := int(field(11))
		e.name = string(b[off+110 : off+110+nameLen-1])
		off += 110 + nameLen
		off += (4 - off%4) % 4
		off += int(e.size)
		off += (4 - off%4) % 4
		if e.name == "TRAILER!!!" {
			if off != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestWriteCpio(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]vm.File
		want    []string
		wantErr bool
	}{
		{"initramfs", map[string]vm.File{
			"init":        {Mode: vm.ModeReg | 0o755, Data: []byte("abcde")},
			"dev":         {Mode: vm.ModeDir | 0o755},
			"dev/console": {Mode: vm.ModeChar | 0o600, Major: 5, Minor: 1},
		}, []string{"dev", "dev/console", "init"}, false},
		{"file without its directory", map[string]vm.File{"lib/modules/veth.ko": {Mode: vm.ModeReg}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := vm.WriteCpio(&buf, tc.files)
			if (err != nil) != tc.wantErr {
				t.Fatalf("WriteCpio: %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			got := parseNewc(t, buf.Bytes())
			var names []string
			for _, e := range got {
				names = append(names, e.name)
				f := tc.files[e.name]
				if e.mode != uint64(f.Mode) || e.size != uint64(len(f.Data)) || e.maj != uint64(f.Major) || e.min != uint64(f.Minor) {
					t.Errorf("%s: mode %o size %d dev %d:%d, want %o %d %d:%d", e.name, e.mode, e.size, e.maj, e.min, f.Mode, len(f.Data), f.Major, f.Minor)
				}
			}
			if strings.Join(names, " ") != strings.Join(tc.want, " ") {
				t.Errorf("entries %v, want %v (parents first)", names, tc.want)
			}
		})
	}
}

func TestCleanStale(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CleanStale reports an error off Linux")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	// A pid above the kernel's pid_max limit (4194304) never exists.
	dead := filepath.Join(tmp, "tcplab-vm-4194305-123")
	live := filepath.Join(tmp, "tcplab-vm-1-456") // init is always there
	own := filepath.Join(tmp, "tcplab-vm-"+strconv.Itoa(os.Getpid())+"-789")
	for _, d := range []string{dead, live, own} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := vm.CleanStale()
	if err != nil || len(removed) != 1 || removed[0] != dead {
		t.Fatalf("CleanStale() = %v, %v; want [%s]", removed, err, dead)
	}
	for _, d := range []string{live, own} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s of a live process was removed", d)
		}
	}
}
