package harness

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tcplab/tcplab"
)

// ErrNoGo means an installed CLI outside a checkout cannot build the lab's
// container binary because no Go toolchain is on PATH.
var ErrNoGo = errors.New("no Go toolchain on PATH")

// buildFromSource builds the container binary for linux/arch from the
// source embedded in this executable, with the user's Go toolchain, and
// caches it by the hash of source, architecture and Go version in the
// user's cache directory: later runs reuse it at once.
func buildFromSource(ctx context.Context, arch, dst string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("%w: outside a checkout tcplab builds its linux/%s container binary with Go ≥ 1.26: install it from https://go.dev/dl (or build images/tcplab/Dockerfile, a multi-stage build, where a registry is reachable)", ErrNoGo, arch)
	}
	ver, err := exec.CommandContext(ctx, gobin, "env", "GOVERSION").Output()
	if err != nil {
		return fmt.Errorf("go env GOVERSION: %w", err)
	}
	key, err := sourceHash(tcplab.Source, arch, strings.TrimSpace(string(ver)))
	if err != nil {
		return err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cached := filepath.Join(cache, "tcplab", "bin", key[:24], "tcplab")
	if _, err := os.Stat(cached); err != nil {
		if err := compileSource(ctx, gobin, arch, cached); err != nil {
			return err
		}
	}
	return copyFile(cached, dst)
}

// sourceHash identifies a build: every embedded file, the target and the
// toolchain.
func sourceHash(src fs.FS, arch, goVersion string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "linux/%s %s\n", arch, goVersion)
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil)), err
}

// compileSource writes the embedded tree to a temporary module and builds
// it, then moves the binary into place (atomically: concurrent runs may
// race to fill the cache).
func compileSource(ctx context.Context, gobin, arch, out string) error {
	dir, done, err := newScratch("", "tcplab-src-")
	if err != nil {
		return err
	}
	defer done()
	if err := os.CopyFS(dir, tcplab.Source); err != nil {
		return fmt.Errorf("writing the lab's source: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	// Built beside its target, in a scratch directory of its own, so that
	// the rename is atomic and a killed build leaves nothing for long.
	bdir, bdone, err := newScratch(filepath.Dir(out), "tcplab-build-")
	if err != nil {
		return err
	}
	defer bdone()
	tmp := filepath.Join(bdir, "tcplab")
	build := exec.CommandContext(ctx, gobin, "build", "-tags", "container", "-trimpath", "-ldflags=-s -w", "-o", tmp, "./lab/cmd/tcplab")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	dieWithParent(build)
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the lab's linux/%s binary from its embedded source: %v\n%s", arch, err, b)
	}
	return os.Rename(tmp, out)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
