package debian_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/debian"
)

const (
	lists   = "/var/lib/apt/lists"
	aptCat  = "/usr/lib/apt/apt-helper"
	pkg61   = "linux-image-6.1.0-56-cloud-amd64-unsigned"
	pkg612  = "linux-image-6.12.117+deb12-cloud-amd64-unsigned"
	release = "6.1.0-56-cloud-amd64"
)

// archive serves apt's own lists (InRelease and the uncompressed Packages
// apt-helper reads back from its .lz4 copy) and the .debs of the kernel
// cache at their pool paths, like deb.debian.org would. tamper changes the
// bytes of the file whose URL path ends with it.
func archive(t *testing.T, tamper string) (*httptest.Server, []debian.Source) {
	t.Helper()
	if _, err := os.Stat(aptCat); err != nil {
		t.Skip("no apt here: apt-helper is absent")
	}
	debs, _ := filepath.Glob(filepath.Join(cacheDir(t), "*.deb"))
	if len(debs) == 0 {
		t.Skip("no kernel .debs in the cache: run images/kernels.sh")
	}
	files := map[string]string{} // URL path → file
	var sources []debian.Source
	for _, suite := range []string{"bookworm-security", "bookworm-updates", "bookworm"} {
		repo := "debian"
		if suite == "bookworm-security" {
			repo = "debian-security"
		}
		prefix := "deb.debian.org_" + repo + "_dists_" + suite + "_"
		rel := filepath.Join(lists, prefix+"InRelease")
		pk, _ := filepath.Glob(filepath.Join(lists, prefix+"main_binary-amd64_Packages*"))
		if _, err := os.Stat(rel); err != nil || len(pk) == 0 {
			t.Skipf("apt has no lists of %s: run apt-get update", suite)
		}
		files["/"+repo+"/dists/"+suite+"/InRelease"] = rel
		files["/"+repo+"/dists/"+suite+"/main/binary-amd64/Packages"] = "cat:" + pk[0]
		sources = append(sources, debian.Source{URL: "http://archive.test/" + repo, Suite: suite, Component: "main"})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := files[r.URL.Path]
		var b []byte
		var err error
		switch {
		case ok && strings.HasPrefix(name, "cat:"):
			b, err = exec.Command(aptCat, "cat-file", strings.TrimPrefix(name, "cat:")).Output()
		case ok:
			b, err = os.ReadFile(name)
		case strings.Contains(r.URL.Path, "/pool/"):
			b, err = os.ReadFile(filepath.Join(cacheDir(t), filepath.Base(r.URL.Path)))
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if tamper != "" && strings.HasSuffix(r.URL.Path, tamper) {
			b[len(b)/2] ^= 1
		}
		if _, err := w.Write(b); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(srv.Close)
	for i := range sources {
		sources[i].URL = strings.Replace(sources[i].URL, "http://archive.test", srv.URL, 1)
	}
	return srv, sources
}

func cacheDir(t *testing.T) string {
	d, err := debian.CacheDir()
	if err != nil {
		t.Skip(err)
	}
	return d
}

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name, pkg, tamper string
		wantErr           error
	}{
		{"6.1 from the security suite", pkg61, "", nil},
		{"6.12", pkg612, "", nil},
		{"newest 6.1 by glob", "linux-image-6.1.0-*-cloud-amd64-unsigned", "", nil},
		{"unknown package", "linux-image-4.0-nonexistent", "", debian.ErrNotFound},
		{"tampered Packages", pkg61, "/Packages", debian.ErrChecksum},
		{"tampered .deb", pkg61, ".deb", debian.ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, sources := archive(t, tc.tamper)
			dir := t.TempDir()
			f := &debian.Fetcher{Sources: sources, Dir: dir}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			got, err := f.Fetch(ctx, tc.pkg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Fetch(%s) = %q, %v; want error %v", tc.pkg, got, err, tc.wantErr)
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".fetch-*"))
			if len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
			if tc.wantErr != nil {
				return
			}
			// images/kernels.sh got the newest with apt-get download: the same file.
			want, _ := filepath.Glob(filepath.Join(cacheDir(t), tc.pkg+"_*.deb"))
			if len(want) != 1 || filepath.Base(want[0]) != filepath.Base(got) {
				t.Errorf("fetched %s, apt-get download made %v", filepath.Base(got), want)
			}
		})
	}
}

func TestUnpack(t *testing.T) {
	if testing.Short() || raceEnabled {
		// 60 MB of pure-Go xz: minutes under the race detector, and no concurrency to check.
		t.Skip("unpacks two kernels: not under -short or -race")
	}
	for _, tc := range []struct {
		pkg, release, veth, boot string
	}{
		{pkg61, release, "modules/veth.ko", "vmlinux"},                          // lz4 payload
		{pkg612, "6.12.117+deb12-cloud-amd64", "modules/veth.ko.xz", "vmlinux"}, // zstd payload
	} {
		t.Run(tc.release, func(t *testing.T) {
			debs, _ := filepath.Glob(filepath.Join(cacheDir(t), tc.pkg+"_*.deb"))
			if len(debs) == 0 {
				t.Skip("no " + tc.pkg + " in the cache: run images/kernels.sh")
			}
			k, err := debian.Unpack(debs[0], t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if k.Release != tc.release {
				t.Errorf("release %q, want %q", k.Release, tc.release)
			}
			pos := map[string]int{}
			for i, m := range k.Modules {
				pos[m] = i
			}
			if _, ok := pos[tc.veth]; !ok {
				t.Errorf("modules %v lack %s", k.Modules, tc.veth)
			}
			ext := strings.TrimPrefix(tc.veth, "modules/veth")
			// tcp_diag depends on inet_diag: the dependency comes first.
			if pos["modules/inet_diag"+ext] >= pos["modules/tcp_diag"+ext] {
				t.Errorf("load order %v: inet_diag must precede tcp_diag", k.Modules)
			}
			need, err := k.Files("tcp_diag")
			if err != nil || strings.Join(need, " ") != "modules/inet_diag"+ext+" modules/tcp_diag"+ext {
				t.Errorf("Files(tcp_diag) = %v, %v; want inet_diag then tcp_diag", need, err)
			}
			if _, err := k.Files("no_such_module"); !errors.Is(err, debian.ErrModule) {
				t.Errorf("Files(no_such_module): %v, want ErrModule", err)
			}
			if k.Vmlinuz != tc.boot {
				t.Errorf("boots %s, want %s", k.Vmlinuz, tc.boot)
			}
			if st, err := os.Stat(k.Path(k.Vmlinuz)); err != nil || st.Size() < 1<<20 {
				t.Errorf("vmlinuz: %v", err)
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
