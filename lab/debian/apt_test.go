package debian_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/debian"
	"github.com/tcplab/tcplab/lab/kernelrun"
)

// TestFetchAptLists fetches each kernel the lab boots from the archive
// apt sees, its own lists served locally with the kernel cache's .debs as
// the pool: the fetcher (hosts without apt) picks the package apt would
// (kernelrun.AptNewest, what --kernel downloads with apt-get), and its
// file is byte for byte the one apt-get download wrote.
func TestFetchAptLists(t *testing.T) {
	heavy(t)
	if _, err := os.Stat(aptHelper); err != nil {
		t.Skip("no apt here (" + aptHelper + "): a Debian host runs this after apt-get update")
	}
	for _, s := range aptSuites {
		if _, err := s.lists(); err != nil {
			t.Skip(err.Error() + ": run apt-get update")
		}
	}
	cache := cacheDir(t)
	if len(cachedDebs(t)) == 0 {
		t.Skip("no kernel in " + cache + ": run images/kernels.sh")
	}
	for _, spec := range kernelrun.Specs {
		t.Run(spec.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			want, err := kernelrun.AptNewest(ctx, spec)
			if err != nil {
				t.Skip(err)
			}
			sources, missing := aptArchive(t, cache)
			got, err := (&debian.Fetcher{Sources: sources, Dir: t.TempDir()}).Fetch(ctx, spec.Package)
			if m := missing.Load(); m != nil {
				if name, _, _ := strings.Cut(*m, "_"); name != want { // images/kernels.sh would not help
					t.Fatalf("Fetch(%s) asked for %s; apt's newest is %s", spec.Package, *m, want)
				}
				t.Skipf("apt's lists name %s, not in %s: run images/kernels.sh", *m, cache)
			}
			if err != nil {
				t.Fatalf("Fetch(%s): %v", spec.Package, err)
			}
			if name, _, _ := strings.Cut(filepath.Base(got), "_"); name != want {
				t.Errorf("fetched %s, apt's newest is %s", filepath.Base(got), want)
			}
		})
	}
}

const (
	lists     = "/var/lib/apt/lists"
	aptHelper = "/usr/lib/apt/apt-helper"
)

// aptSuite is one suite of debian.DefaultSources as apt keeps its lists.
type aptSuite struct{ repo, suite string }

var aptSuites = []aptSuite{{"debian-security", "bookworm-security"}, {"debian", "bookworm-updates"}, {"debian", "bookworm"}}

// lists returns apt's InRelease and Packages (compressed as apt keeps it) of s.
func (s aptSuite) lists() ([2]string, error) {
	prefix := filepath.Join(lists, "deb.debian.org_"+s.repo+"_dists_"+s.suite+"_")
	pk, _ := filepath.Glob(prefix + "main_binary-amd64_Packages*")
	if _, err := os.Stat(prefix + "InRelease"); err != nil || len(pk) == 0 {
		return [2]string{}, fmt.Errorf("no apt lists of %s in %s", s.suite, lists)
	}
	return [2]string{prefix + "InRelease", pk[0]}, nil
}

// aptArchive serves apt's own lists (InRelease, and the Packages apt-helper
// reads back from apt's compressed copy) and the .debs of the kernel cache
// at their pool paths, as deb.debian.org would. missing records a .deb the
// lists name that the cache lacks.
func aptArchive(t *testing.T, cache string) ([]debian.Source, *atomic.Pointer[string]) {
	t.Helper()
	files := map[string]string{} // URL path → file; "cat:" through apt-helper
	var sources []debian.Source
	for _, s := range aptSuites {
		l, err := s.lists()
		if err != nil {
			t.Fatal(err)
		}
		files["/"+s.repo+"/dists/"+s.suite+"/InRelease"] = l[0]
		files["/"+s.repo+"/dists/"+s.suite+"/main/binary-amd64/Packages"] = "cat:" + l[1]
		sources = append(sources, debian.Source{URL: s.repo, Suite: s.suite, Component: "main"})
	}
	missing := &atomic.Pointer[string]{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := files[r.URL.Path]
		var b []byte
		var err error
		switch {
		case ok && strings.HasPrefix(name, "cat:"):
			b, err = exec.Command(aptHelper, "cat-file", strings.TrimPrefix(name, "cat:")).Output()
		case ok:
			b, err = os.ReadFile(name)
		case strings.Contains(r.URL.Path, "/pool/") && strings.HasSuffix(r.URL.Path, ".deb"):
			deb := path.Base(r.URL.Path)
			if b, err = os.ReadFile(filepath.Join(cache, deb)); errors.Is(err, fs.ErrNotExist) {
				missing.Store(&deb)
			}
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if _, err := w.Write(b); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(srv.Close)
	for i := range sources {
		sources[i].URL = srv.URL + "/" + sources[i].URL
	}
	return sources, missing
}

func cacheDir(t *testing.T) string {
	d, err := debian.CacheDir()
	if err != nil {
		t.Skip(err.Error() + ": set TCPLAB_KERNELS")
	}
	return d
}
