// Package debian fetches and unpacks the Debian kernel packages the lab boots
// in VMs, in pure Go so that hosts without apt (macOS, Windows) can use it.
// Every download is checked against the checksums the archive publishes:
// Release names the SHA256 of Packages, Packages names the SHA256 and size
// of the .deb. The Release file's OpenPGP signature is not checked here; the
// archive is reached over HTTPS by default.
package debian

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"
)

// ErrChecksum is returned when a file does not match the checksum or size
// the archive publishes for it.
var ErrChecksum = errors.New("checksum mismatch")

// ErrNotFound is returned when no suite of the archive has the package.
var ErrNotFound = errors.New("package not in the archive")

// DefaultArchive is Debian's mirror network, reached over HTTPS.
const DefaultArchive = "https://deb.debian.org/debian"

// Source is one suite of an archive, as in a sources.list line
// "deb URL SUITE COMPONENT".
type Source struct {
	URL, Suite, Component string
}

// DefaultSources are the suites apt on a bookworm host reads kernels from.
var DefaultSources = []Source{
	{DefaultArchive + "-security", "bookworm-security", "main"},
	{DefaultArchive, "bookworm-updates", "main"},
	{DefaultArchive, "bookworm", "main"},
}

// Fetcher downloads .debs from an archive into Dir, verifying each step.
type Fetcher struct {
	Sources []Source
	Arch    string // "amd64" when empty
	Dir     string // where .debs are kept; CacheDir() when empty
	Client  *http.Client
}

// Package is the part of a Packages stanza the fetcher needs.
type Package struct {
	Name, Version, Filename, SHA256 string
	Size                            int64
}

// Fetch returns the path of pkg's .deb in f.Dir, downloading and verifying
// it unless a verified copy is already there. pkg may be a glob (see
// FindPackage); the newest match over all sources is fetched.
func (f *Fetcher) Fetch(ctx context.Context, pkg string) (string, error) {
	dir := f.Dir
	if dir == "" {
		var err error
		if dir, err = CacheDir(); err != nil {
			return "", err
		}
	}
	var errs []error
	var p *Package
	var src Source
	for _, s := range f.Sources { // the newest over every suite, as apt does
		q, err := f.find(ctx, s, pkg)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if p == nil || CompareVersions(q.Version, p.Version) > 0 {
			p, src = q, s
		}
	}
	if len(errs) > 0 { // a suite that failed verification might hold a newer version
		return "", errors.Join(errs...)
	}
	if p != nil {
		dst := filepath.Join(dir, debName(p))
		if fileMatches(dst, p.SHA256, p.Size) == nil {
			return dst, nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		url := strings.TrimSuffix(src.URL, "/") + "/" + p.Filename
		if err := f.download(ctx, url, dst, p.SHA256, p.Size); err != nil {
			return "", err
		}
		return dst, nil
	}
	return "", fmt.Errorf("%s: %w", pkg, ErrNotFound)
}

// debName is the pool's file name, which is also apt-get download's for
// packages without an epoch (the kernels have none).
func debName(p *Package) string { return path.Base(p.Filename) }

// find reads src's Release and Packages and returns pkg's stanza.
func (f *Fetcher) find(ctx context.Context, src Source, pkg string) (*Package, error) {
	base := strings.TrimSuffix(src.URL, "/") + "/dists/" + src.Suite + "/"
	rel, err := f.get(ctx, base+"InRelease")
	if err != nil {
		if rel, err = f.get(ctx, base+"Release"); err != nil {
			return nil, err
		}
	}
	sums := ReleaseSHA256(rel)
	arch := f.Arch
	if arch == "" {
		arch = "amd64"
	}
	idx := src.Component + "/binary-" + arch + "/Packages"
	lastErr := fmt.Errorf("%s: Release lists no %s", base, idx)
	for _, ext := range []string{".xz", ".gz", ""} {
		sum, ok := sums[idx+ext]
		if !ok {
			continue
		}
		b, err := f.get(ctx, base+idx+ext)
		if err != nil {
			lastErr = err // like apt: a mirror may lack one compression
			continue
		}
		if err := verify(b, sum.SHA256, sum.Size); err != nil {
			return nil, fmt.Errorf("%s%s: %w", base, idx+ext, err)
		}
		plain, err := decompress(ext, b)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", base, idx+ext, err)
		}
		return FindPackage(plain, pkg)
	}
	return nil, lastErr
}

// Sum is a checksum line of a Release file.
type Sum struct {
	SHA256 string
	Size   int64
}

// ReleaseSHA256 parses the SHA256 section of a Release or InRelease file.
func ReleaseSHA256(rel []byte) map[string]Sum {
	sums := map[string]Sum{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(rel))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, " ") {
			in = line == "SHA256:"
			continue
		}
		if f := strings.Fields(line); in && len(f) == 3 {
			size, _ := strconv.ParseInt(f[1], 10, 64)
			sums[f[2]] = Sum{SHA256: f[0], Size: size}
		}
	}
	return sums
}

// FindPackage returns the stanza of pkg in a Packages file. pkg may be a
// glob (path.Match), e.g. "linux-image-6.1.0-*-cloud-amd64-unsigned": the
// newest version of any matching package wins.
func FindPackage(packages []byte, pkg string) (*Package, error) {
	var found *Package
	for _, st := range bytes.Split(packages, []byte("\n\n")) {
		fields := map[string]string{}
		for _, line := range strings.Split(string(st), "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, " ") {
				fields[k] = v
			}
		}
		if ok, _ := path.Match(pkg, fields["Package"]); !ok {
			continue
		}
		if found != nil && CompareVersions(fields["Version"], found.Version) <= 0 {
			continue
		}
		size, err := strconv.ParseInt(fields["Size"], 10, 64)
		if err != nil || fields["SHA256"] == "" || fields["Filename"] == "" {
			return nil, fmt.Errorf("%s: stanza without Filename, Size or SHA256", pkg)
		}
		found = &Package{Name: fields["Package"], Version: fields["Version"], Filename: fields["Filename"], SHA256: fields["SHA256"], Size: size}
	}
	if found == nil {
		return nil, fmt.Errorf("%s: %w", pkg, ErrNotFound)
	}
	return found, nil
}

func decompress(ext string, b []byte) ([]byte, error) {
	switch ext {
	case ".xz":
		r, err := xz.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	case ".gz":
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	return b, nil
}

// maxIndex bounds an index file held in memory.
const maxIndex = 256 << 20

func (f *Fetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return http.DefaultClient
}

func (f *Fetcher) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxIndex))
}

// download writes url to dst through a temporary file that is renamed only
// once its checksum and size match.
func (f *Fetcher) download(ctx context.Context, url, dst, sum string, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".fetch-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, size+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sum {
		return fmt.Errorf("%s: %w: got %d bytes sha256 %s, the archive says %d bytes sha256 %s", url, ErrChecksum, n, got, size, sum)
	}
	return os.Rename(tmp.Name(), dst)
}

func verify(b []byte, sum string, size int64) error {
	h := sha256.Sum256(b)
	if got := hex.EncodeToString(h[:]); got != sum || int64(len(b)) != size {
		return fmt.Errorf("%w: got %d bytes sha256 %s, Release says %d bytes sha256 %s", ErrChecksum, len(b), got, size, sum)
	}
	return nil
}

// fileMatches checks a file on disk against a published checksum.
func fileMatches(name, sum string, size int64) error {
	fh, err := os.Open(name)
	if err != nil {
		return err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sum {
		return fmt.Errorf("%s: %w", name, ErrChecksum)
	}
	return nil
}

// CacheDir is where the lab keeps kernels: os.UserCacheDir()/tcplab/kernels,
// or $TCPLAB_KERNELS when set (images/kernels.sh uses the same rule).
func CacheDir() (string, error) {
	if d := os.Getenv("TCPLAB_KERNELS"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for kernels: %w", err)
	}
	return filepath.Join(d, "tcplab", "kernels"), nil
}
