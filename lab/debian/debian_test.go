package debian_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/debian"
	"github.com/tcplab/tcplab/lab/kernelrun"
)

// TestFetch fetches from a fixture archive of three suites: the newest
// match of a glob over every suite in dpkg's order (6.1.10 after 6.1.9,
// ~deb12u1 before the plain version), a Packages form the mirror lacks
// skipped for the next, a suite with only a Release file, and every
// mismatch against the published checksums refused. A verified copy is
// not downloaded again.
func TestFetch(t *testing.T) {
	suites := []fixtureSuite{
		{"debian-security", "bookworm-security", "InRelease", ".xz", []fixturePackage{
			{"linux-image-6.1.0-10-cloud-amd64-unsigned", "6.1.10-1"},
			{"linux-image-6.1.0-9-cloud-amd64-unsigned", "6.1.9-1"},
			{"linux-image-6.12.10+deb12-cloud-amd64-unsigned", "6.12.10-1~deb12u1"},
		}},
		{"debian", "bookworm-updates", "Release", "", []fixturePackage{{"tzdata", "2025b-0+deb12u1"}}},
		{"debian", "bookworm", "InRelease", ".gz", []fixturePackage{
			{"linux-image-6.1.0-2-cloud-amd64-unsigned", "6.1.2-1"},
			{"linux-image-6.12.10+deb12-cloud-amd64-unsigned", "6.12.10-1"},
		}},
	}
	for _, tc := range []struct {
		name, pkg, tamper string
		want              fixturePackage
		wantErr           error
	}{
		{"newest 6.1 by glob: of two in a suite, and over the suites", "linux-image-6.1.0-*-cloud-amd64-unsigned", "",
			fixturePackage{"linux-image-6.1.0-10-cloud-amd64-unsigned", "6.1.10-1"}, nil},
		{"one name in two suites: the newer version", "linux-image-6.12.*+deb12-cloud-amd64-unsigned", "",
			fixturePackage{"linux-image-6.12.10+deb12-cloud-amd64-unsigned", "6.12.10-1"}, nil},
		{"an exact name", "linux-image-6.1.0-2-cloud-amd64-unsigned", "",
			fixturePackage{"linux-image-6.1.0-2-cloud-amd64-unsigned", "6.1.2-1"}, nil},
		{"a suite with only Release", "tzdata", "", fixturePackage{"tzdata", "2025b-0+deb12u1"}, nil},
		{"unknown package", "linux-image-4.0-nonexistent", "", fixturePackage{}, debian.ErrNotFound},
		{"tampered Packages", "linux-image-6.1.0-2-cloud-amd64-unsigned", "/Packages.xz", fixturePackage{}, debian.ErrChecksum},
		{"tampered .deb", "linux-image-6.1.0-2-cloud-amd64-unsigned", ".deb", fixturePackage{}, debian.ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sources, debs := fixtureArchive(t, suites, tc.tamper)
			dir := t.TempDir()
			f := &debian.Fetcher{Sources: sources, Dir: dir}
			got, err := f.Fetch(context.Background(), tc.pkg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Fetch(%s) = %q, %v; want error %v", tc.pkg, got, err, tc.wantErr)
			}
			left, _ := filepath.Glob(filepath.Join(dir, "*"))
			if tc.wantErr != nil {
				if len(left) > 0 {
					t.Errorf("left behind: %v", left)
				}
				return
			}
			if len(left) != 1 || got != filepath.Join(dir, tc.want.deb()) {
				t.Fatalf("fetched %s, %v in the directory; want %s", got, left, tc.want.deb())
			}
			if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, tc.want.body()) {
				t.Errorf("%s: %v, not the archive's bytes", got, err)
			}
			if again, err := f.Fetch(context.Background(), tc.pkg); err != nil || again != got || debs.Load() != 1 {
				t.Errorf("second Fetch = %s, %v after %d downloads; want the verified copy, 1 download", again, err, debs.Load())
			}
		})
	}
}

// TestUnpack unpacks fixture kernel packages in every form the lab meets:
// data.tar compressed with xz or gzip or not at all, modules plain or
// xz-compressed. It checks the release, the package and version, the
// modules in load order (every module after what it depends on, only
// what the lab loads), that each file is the package's, and that a second
// Unpack reads the first one's manifest; and it refuses a package lacking
// a dependency or in a form it cannot read.
func TestUnpack(t *testing.T) {
	const release, name = "6.1.0-0-fixture-amd64", "linux-image-6.1.0-0-fixture-amd64-unsigned"
	for _, tc := range []struct {
		name, version string
		pkg           kernelPackage
		raw           []byte // the file, instead of pkg
		wantErr       error
	}{
		{"xz data, plain modules", "6.1.0-1", kernelPackage{release: release, data: "data.tar.xz", ext: ".ko"}, nil, nil},
		{"gzip data, xz modules", "6.1.0-1~deb12u1", kernelPackage{release: release, data: "data.tar.gz", ext: ".ko.xz"}, nil, nil},
		{"uncompressed data", "6.1.0-2", kernelPackage{release: release, data: "data.tar", ext: ".ko"}, nil, nil},
		{"a dependency missing", "6.1.0-1", kernelPackage{release: release, data: "data.tar.xz", ext: ".ko", drop: "nfnetlink"}, nil, debian.ErrModule},
		{"zstd data", "6.1.0-1", kernelPackage{release: release, data: "data.tar.zst", ext: ".ko"}, nil, debian.ErrNotDeb},
		{"not an ar archive", "6.1.0-1", kernelPackage{}, []byte("Package: linux-image\n"), debian.ErrNotDeb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, mods := tc.raw, map[string][]byte(nil)
			if b == nil {
				b, mods = tc.pkg.build()
			}
			file := fixturePackage{name, tc.version}.deb()
			deb := filepath.Join(t.TempDir(), file)
			if err := os.WriteFile(deb, b, 0o644); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			k, err := debian.Unpack(deb, dir)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Unpack: %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if k.Release != release || k.Deb != file || k.Version != tc.version || k.Package() != name+"="+tc.version {
				t.Errorf("release %q, deb %q, version %q, package %q; want %q, %q, %q, %s=%s", k.Release, k.Deb, k.Version, k.Package(), release, file, tc.version, name, tc.version)
			}
			if k.Vmlinuz != "vmlinuz" { // not a bzImage: booted as it is
				t.Errorf("boots %s, want vmlinuz", k.Vmlinuz)
			}
			checkModules(t, k)
			want := map[string][]byte{"vmlinuz": vmlinuzFixture}
			for m, b := range mods {
				if !strings.HasPrefix(m, "modules/ext4.") { // outside the directories the lab reads
					want[m] = b
				}
			}
			if len(k.Modules)+1 != len(want) {
				t.Errorf("modules %v, want the %d the lab loads", k.Modules, len(want)-1)
			}
			for name, b := range want {
				if got, err := os.ReadFile(k.Path(name)); err != nil || !bytes.Equal(got, b) {
					t.Errorf("%s: %v, not the package's bytes", name, err)
				}
			}
			// An unpack made when the lab loaded fewer modules is redone.
			mf := filepath.Join(k.Dir, "kernel.json")
			var m map[string]any
			if b, err := os.ReadFile(mf); err != nil || json.Unmarshal(b, &m) != nil {
				t.Fatalf("manifest: %v", err)
			}
			last := debian.Modules[len(debian.Modules)-1]
			delete(m["needs"].(map[string]any), last)
			if b, err := json.Marshal(m); err != nil || os.WriteFile(mf, b, 0o644) != nil {
				t.Fatal(err)
			}
			if redone, err := debian.Unpack(deb, dir); err != nil || redone.Needs[last] == nil {
				t.Errorf("an unpack without %s was kept: %v", last, err)
			}
			if err := os.Remove(deb); err != nil {
				t.Fatal(err)
			}
			again, err := debian.Unpack(deb, dir) // the manifest, not the package
			if err != nil || again.Dir != k.Dir || strings.Join(again.Modules, " ") != strings.Join(k.Modules, " ") {
				t.Errorf("second Unpack = %+v, %v; want the first one's", again, err)
			}
		})
	}
}

// checkModules checks k's modules as their own .modinfo declares them:
// every module the lab loads is there, each after what it depends on, and
// Files gives a module with its dependencies.
func checkModules(t *testing.T, k *debian.Kernel) {
	t.Helper()
	pos := map[string]int{} // module name → place in the load order
	for i, m := range k.Modules {
		pos[modName(m)] = i
	}
	for i, m := range k.Modules {
		b, err := os.ReadFile(k.Path(m))
		if err != nil {
			t.Fatal(err)
		}
		info, err := debian.ModInfo(b)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		for _, d := range strings.FieldsFunc(info["depends"], func(r rune) bool { return r == ',' }) {
			if j, ok := pos[d]; !ok || j >= i {
				t.Errorf("load order %v: %s comes before its dependency %s", k.Modules, m, d)
			}
		}
	}
	for _, m := range debian.Modules {
		if _, ok := pos[m]; !ok {
			t.Errorf("modules %v lack %s", k.Modules, m)
		}
	}
	need, err := k.Files("tcp_diag")
	if err != nil || len(need) != 2 || modName(need[0]) != "inet_diag" || modName(need[1]) != "tcp_diag" {
		t.Errorf("Files(tcp_diag) = %v, %v; want inet_diag then tcp_diag", need, err)
	}
	if _, err := k.Files("no_such_module"); !errors.Is(err, debian.ErrModule) {
		t.Errorf("Files(no_such_module): %v, want ErrModule", err)
	}
}

// modName is the module's name as .modinfo's depends names it.
func modName(file string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(path.Base(file), ".xz"), ".ko")
	return strings.ReplaceAll(base, "-", "_")
}

// cachedDebs returns the newest cached .deb of each kernel the lab boots
// (kernelrun.Cached, what --kernel boots) by the kernel's name.
func cachedDebs(t *testing.T) map[string]string {
	debs := map[string]string{}
	for _, spec := range kernelrun.Specs {
		deb, err := kernelrun.Cached(spec)
		if err != nil && !errors.Is(err, kernelrun.ErrNotCached) {
			t.Fatal(err)
		}
		if deb != "" {
			debs[spec.Name] = deb
		}
	}
	return debs
}

// TestUnpackCached unpacks the newest cached package of each kernel the
// lab boots (kernelrun.Cached, what --kernel boots): the release is the
// package's, the modules load in order, and the kernel boots as its PVH
// vmlinux (6.1's payload is lz4, 6.12's zstd).
func TestUnpackCached(t *testing.T) {
	heavy(t)
	if testing.Short() || raceEnabled {
		// 60 MB of pure-Go xz: minutes under the race detector, and no concurrency to check.
		t.Skip("unpacks two kernels: not under -short or -race")
	}
	debs := cachedDebs(t)
	if len(debs) == 0 {
		t.Skip("no kernel in " + cacheDir(t) + ": run images/kernels.sh")
	}
	for _, spec := range kernelrun.Specs {
		t.Run(spec.Name, func(t *testing.T) {
			deb, ok := debs[spec.Name]
			if !ok {
				t.Skip("no " + spec.Package + " in " + cacheDir(t) + ": run images/kernels.sh")
			}
			k, err := debian.Unpack(deb, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s", k.Package(), k.Release)
			name, _, _ := strings.Cut(k.Package(), "=")
			if want := strings.TrimSuffix(strings.TrimPrefix(name, "linux-image-"), "-unsigned"); k.Release != want {
				t.Errorf("release %q, want %q (package %s)", k.Release, want, k.Package())
			}
			checkModules(t, k)
			if k.Vmlinuz != "vmlinux" {
				t.Errorf("boots %s, want its vmlinux", k.Vmlinuz)
			}
			if st, err := os.Stat(k.Path(k.Vmlinuz)); err != nil || st.Size() < 1<<20 {
				t.Errorf("%s: %v", k.Vmlinuz, err)
			}
		})
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"6.1.192-2", "6.1.192-2", 0},
		{"6.1.192-2", "6.1.99-1", 1},
		{"6.12.117-1~deb12u1", "6.12.117-1", -1},
		{"6.12.117-1~deb12u1", "6.12.115-2~deb12u1", 1},
		{"1.0a", "1.0", 1},
		{"1.0+b1", "1.0a", 1},
		{"1.01", "1.1", 0},
	} {
		if got := debian.CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := debian.CompareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

// heavy skips a test that reads the real cached kernels (tens of MB of xz
// on every core) unless TCPLAB_VM_TESTS is set: beside the scenario tests
// in `go test ./...` it would starve their delay lines, so it runs with the
// VM tests, on its own, as .ci/run does.
func heavy(t *testing.T) {
	t.Helper()
	if os.Getenv("TCPLAB_VM_TESTS") == "" {
		t.Skip("reads the cached kernels (every core for seconds): set TCPLAB_VM_TESTS=1, as .ci/run does after the scenario tests")
	}
}
