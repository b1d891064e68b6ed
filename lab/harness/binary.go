package harness

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// The lab's one binary, as the harness gets it for the image every
// container runs and for a VM's /init: compiled from the checkout, this
// very executable, or the source embedded in it.

// LabBinary puts a static linux/arch lab binary at dst, as the image gets
// it (see labBinary): a VM kernel boots it as /init (lab/kernelrun).
func LabBinary(ctx context.Context, arch, dst string) error { return labBinary(ctx, arch, dst) }

// buildImage compiles the binary on the host (no Go image is needed, so
// nothing is pulled) and wraps it in a scratch image.
func buildImage(ctx context.Context, arch string) (string, error) {
	dir, done, err := newScratch("", "tcplab-image-")
	if err != nil {
		return "", err
	}
	defer done()
	if err := labBinary(ctx, arch, filepath.Join(dir, "tcplab")); err != nil {
		return "", err
	}
	bin, err := os.ReadFile(filepath.Join(dir, "tcplab"))
	if err != nil {
		return "", err
	}
	tag := fmt.Sprintf("dev-%x", sha256.Sum256(bin))[:16]
	ref := ImageRepo + ":" + tag
	df := "FROM scratch\nLABEL " + LabelImage + "=1\nCOPY tcplab /tcplab\nENTRYPOINT [\"/tcplab\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return "", err
	}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	defer p.Close()
	cli := p.Client()
	// One build of a tag at a time, across processes (go test runs
	// packages side by side): two at once left the loser's image untagged,
	// and removing untagged images then raced with the tag itself.
	unlock, err := imageLock(ctx, tag)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil // built before, by this binary's hash
	}
	// Images an older tcplab left untagged go, here and now, unless a
	// container still uses one.
	defer func() {
		l, err := cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("dangling", "true").Add("label", LabelImage+"=1")})
		if err != nil {
			return
		}
		for _, im := range l.Items {
			_, _ = cli.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{})
		}
	}()
	_, err = p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Repo: ImageRepo, Tag: tag, KeepImage: true,
	}})
	if err != nil {
		return "", fmt.Errorf("building image %s: %w", ref, err)
	}
	return ref, nil
}

// labBinary puts the lab binary at dst: compiled from the checkout the
// process runs in (tests, go run), or else this very executable when it is
// a static Linux binary of the daemon's architecture (an installed tcplab,
// built with CGO_ENABLED=0), which holds every role too, or else built
// from the source embedded in this executable.
func labBinary(ctx context.Context, arch, dst string) error {
	root, err := moduleRoot()
	if err == nil {
		build := exec.CommandContext(ctx, "go", "build", "-tags", "container", "-trimpath", "-ldflags=-s -w", "-o", dst, "./lab/cmd/tcplab")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		dieWithParent(build)
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building the lab binary: %v\n%s", err, out)
		}
		return nil
	}
	self, serr := os.Executable()
	if serr != nil || runtime.GOOS != "linux" || runtime.GOARCH != arch || !static(self) {
		// An installed CLI built the default way (cgo, dynamic), or on
		// macOS or Windows, or for another architecture.
		return buildFromSource(ctx, arch, dst)
	}
	return copyFile(self, dst)
}

// static reports whether the ELF file at path asks for no dynamic loader.
func static(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// moduleRoot finds the tcplab checkout the working directory is in.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			if strings.Contains(string(b), "module github.com/tcplab/tcplab\n") {
				return dir, nil
			}
			return "", errors.New("harness: the go.mod above the working directory is not tcplab's")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: not in a tcplab checkout")
		}
		dir = parent
	}
}

// imageLock takes the cross-process lock on building tag (a file beside
// the session locks), waiting at most until ctx ends; without a usable
// cache directory there is no lock and builds may overlap.
func imageLock(ctx context.Context, tag string) (unlock func(), err error) {
	dir := filepath.Dir(SessionDir())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return func() {}, nil
	}
	l := flock.New(filepath.Join(dir, "image-"+tag+".lock"))
	ok, err := l.TryLockContext(ctx, 50*time.Millisecond)
	if err != nil || !ok {
		return nil, fmt.Errorf("waiting for another process's build of image %s:%s: %w", ImageRepo, tag, errors.Join(err, ctx.Err()))
	}
	return func() { _ = l.Unlock() }, nil
}
