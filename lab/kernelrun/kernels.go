// Package kernelrun runs the lab's planned topologies on named Linux
// kernels: a second topology.Runtime beside the Docker harness, booting a
// Debian cloud kernel in QEMU (lab/vm) with the lab's own binary as /init.
// The same plan (topology.Plan), the same role and driver code run in both:
// each host of the plan becomes a network namespace in the VM, owned by its
// agent, with the host's sysctls; its other nodes join that namespace.
//
// Kernels are named as a user says them ("6.1", "6.12"); "host" is the
// container runtime on the Docker host's own kernel. A named kernel is
// found in the cache (debian.CacheDir), else downloaded with apt-get where
// the host has apt, else fetched and verified by debian.Fetcher.
package kernelrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/tcplab/tcplab/lab/debian"
)

// Host names the container runtime on the Docker host's kernel.
const Host = "host"

// ErrUnknown is returned for a kernel name the lab does not boot.
var ErrUnknown = errors.New("unknown kernel")

// Spec is a kernel the lab boots by name.
type Spec struct {
	Name string
	// Package is a glob over Debian package names (path.Match): the
	// newest match is booted.
	Package string
	// apt is the same as an apt-cache search regular expression.
	apt string
}

// Specs are the kernels the lab boots: Debian bookworm's cloud kernels
// (6.1 is bookworm's own, 6.12 the backport that security updates ship).
var Specs = []Spec{
	{"6.1", "linux-image-6.1.0-*-cloud-amd64-unsigned", `^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$`},
	{"6.12", "linux-image-6.12.*+deb12-cloud-amd64-unsigned", `^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned$`},
}

// Names lists what --kernel accepts.
func Names() []string {
	out := []string{}
	for _, s := range Specs {
		out = append(out, s.Name)
	}
	return append(out, Host)
}

// Lookup returns the named kernel's spec.
func Lookup(name string) (Spec, error) {
	for _, s := range Specs {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("%w %q: want one of %s", ErrUnknown, name, strings.Join(Names(), ", "))
}

// Parse reads "6.1,6.12,host": known names, each once, in the order given.
func Parse(list string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n != Host {
			if _, err := Lookup(n); err != nil {
				return nil, err
			}
		}
		if seen[n] {
			return nil, fmt.Errorf("kernel %q named twice", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// Find returns the named kernel, unpacked: from a .deb in the cache, else
// one apt-get downloads into it, else one debian.Fetcher fetches (hosts
// without apt). fetcher may be nil (Debian's archive over HTTPS).
func Find(ctx context.Context, s Spec, fetcher *debian.Fetcher) (*debian.Kernel, error) {
	cache, err := debian.CacheDir()
	if err != nil {
		return nil, err
	}
	deb, err := Cached(s)
	if errors.Is(err, ErrNotCached) {
		if _, aerr := exec.LookPath("apt-get"); aerr == nil && fetcher == nil {
			deb, err = aptDownload(ctx, cache, s)
		} else {
			if fetcher == nil {
				fetcher = &debian.Fetcher{Sources: debian.DefaultSources}
			}
			f := *fetcher
			f.Dir = cache
			deb, err = f.Fetch(ctx, s.Package)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
	}
	k, err := debian.Unpack(deb, cache)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
	}
	return k, nil
}

// ErrNotCached is returned by Cached when the cache holds no package of
// the kernel.
var ErrNotCached = errors.New("not in the kernel cache")

// Cached returns the newest .deb of s in the cache, the one Find boots
// without downloading anything. Tests boot what it returns rather than a
// version of their own, which the archive drops when Debian updates the
// kernel.
func Cached(s Spec) (string, error) {
	cache, err := debian.CacheDir()
	if err != nil {
		return "", err
	}
	deb, err := cached(cache, s.Package)
	if err == nil && deb == "" {
		err = fmt.Errorf("%s %w %s", s.Package, ErrNotCached, cache)
	}
	return deb, err
}

// cached returns the newest .deb in dir whose package matches glob, or "".
func cached(dir, glob string) (string, error) {
	debs, err := filepath.Glob(filepath.Join(dir, "*.deb"))
	if err != nil {
		return "", err
	}
	best, bestVer := "", ""
	for _, d := range debs {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(d), ".deb"), "_")
		if len(parts) != 3 {
			continue
		}
		if ok, _ := path.Match(glob, parts[0]); !ok {
			continue
		}
		ver := strings.ReplaceAll(parts[1], "%3a", ":")
		if best == "" || debian.CompareVersions(ver, bestVer) > 0 {
			best, bestVer = d, ver
		}
	}
	return best, nil
}

// AptNewest returns the newest package of s that apt knows from its lists
// (apt-cache search), the one Find has apt-get download.
func AptNewest(ctx context.Context, s Spec) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", "search", "--names-only", s.apt).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache search: %w", err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("apt knows no package %s (run apt-get update, or images/kernels.sh)", s.Package)
	}
	sort.Slice(names, func(i, j int) bool { return debian.CompareVersions(names[i], names[j]) < 0 })
	return names[len(names)-1], nil
}

// aptDownload downloads the newest package apt knows for s into dir with
// apt-get download (nothing is installed).
func aptDownload(ctx context.Context, dir string, s Spec) (string, error) {
	name, err := AptNewest(ctx, s)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dl := exec.CommandContext(ctx, "apt-get", "download", "-qq", name)
	dl.Dir = dir
	if b, err := dl.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download %s: %v: %s", name, err, strings.TrimSpace(string(b)))
	}
	deb, err := cached(dir, s.Package)
	if err == nil && deb == "" {
		err = fmt.Errorf("apt-get download left no %s in %s", s.Package, dir)
	}
	return deb, err
}

var releaseRE = regexp.MustCompile(`^(\d+)\.(\d+)`)

// HasLinearTimeouts says from a kernel's release whether it has
// net.ipv4.tcp_syn_linear_timeouts (added in Linux 6.5).
func HasLinearTimeouts(release string) (bool, error) {
	m := releaseRE.FindStringSubmatch(release)
	if m == nil {
		return false, fmt.Errorf("kernel release %q: no version", release)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return major > 6 || (major == 6 && minor >= 5), nil
}
