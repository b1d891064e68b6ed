package harness

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tcplab/tcplab"
)

// Without a Go toolchain an installed CLI says what to install.
func TestBuildFromSourceWithoutGo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := buildFromSource(context.Background(), "arm64", filepath.Join(t.TempDir(), "tcplab"))
	if !errors.Is(err, ErrNoGo) || !strings.Contains(err.Error(), "go.dev/dl") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v; want one line wrapping ErrNoGo and naming go.dev/dl", err)
	}
}

// The cache key changes with every input of the build.
func TestSourceHash(t *testing.T) {
	a := fstest.MapFS{"go.mod": {Data: []byte("module x\n")}, "lab/a.go": {Data: []byte("package a\n")}}
	b := fstest.MapFS{"go.mod": {Data: []byte("module x\n")}, "lab/a.go": {Data: []byte("package b\n")}}
	base, err := sourceHash(a, "amd64", "go1.26.0")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		src        fstest.MapFS
		arch, goV  string
		wantChange bool
	}{
		{"same inputs", a, "amd64", "go1.26.0", false},
		{"a file's content", b, "amd64", "go1.26.0", true},
		{"architecture", a, "arm64", "go1.26.0", true},
		{"toolchain", a, "amd64", "go1.26.1", true},
	} {
		h, err := sourceHash(tc.src, tc.arch, tc.goV)
		if err != nil || (h != base) != tc.wantChange {
			t.Errorf("%s: hash changed %v (err %v), want %v", tc.name, h != base, err, tc.wantChange)
		}
	}
	// The embedded tree is the one the Dockerfile copies.
	for _, p := range []string{"go.mod", "go.sum", "lab/cmd/tcplab/main.go", "compose/compose.go"} {
		if _, err := tcplab.Source.Open(p); err != nil {
			t.Errorf("embedded source lacks %s: %v", p, err)
		}
	}
}
