package debian_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tcplab/tcplab/lab/debian"
	"github.com/ulikunitz/xz"
)

// The fixtures here are made by the tests themselves, so that parsing,
// verifying and unpacking are checked without the network, apt or a
// kernel cache, and never against a version the archive has since dropped.

// modObject is a minimal ELF relocatable object with the .modinfo section
// a kernel module carries: what Unpack reads a module's dependencies from.
func modObject(name string, depends []string) []byte {
	modinfo := []byte("license=GPL\x00depends=" + strings.Join(depends, ",") + "\x00name=" + name + "\x00vermagic=fixture\x00")
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const hdr = 64
	shoff := hdr + len(modinfo) + len(shstrtab)
	var b bytes.Buffer
	h := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: uint64(shoff), Ehsize: hdr, Shentsize: 64, Shnum: 3, Shstrndx: 2,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: hdr, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: uint64(hdr + len(modinfo)), Size: uint64(len(shstrtab)), Addralign: 1},
	}
	must(binary.Write(&b, binary.LittleEndian, h))
	b.Write(modinfo)
	b.Write(shstrtab)
	must(binary.Write(&b, binary.LittleEndian, sections))
	return b.Bytes()
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// xzBytes compresses b as xz does (modules .ko.xz, data.tar.xz, Packages.xz).
func xzBytes(b []byte) []byte {
	var out bytes.Buffer
	w, err := xz.NewWriter(&out)
	must(err)
	_, err = w.Write(b)
	must(err)
	must(w.Close())
	return out.Bytes()
}

func gzBytes(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	_, err := w.Write(b)
	must(err)
	must(w.Close())
	return out.Bytes()
}

// arMember is one member of a .deb's ar archive.
type arMember struct {
	name string
	data []byte
}

// arArchive lays members out as dpkg-deb does: a global header, then each
// member's 60-byte header and data, padded to an even offset.
func arArchive(members ...arMember) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.data))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// fixtureModules are a kernel package's modules: path under
// lib/modules/RELEASE/ → the modules it depends on. They are the lab's
// Modules with dependencies shaped like Debian's, and one module outside
// the directories the lab reads.
var fixtureModules = map[string][]string{
	"kernel/drivers/net/veth.ko":                  nil,
	"kernel/drivers/net/ifb.ko":                   nil,
	"kernel/net/ipv4/inet_diag.ko":                nil,
	"kernel/net/ipv4/tcp_diag.ko":                 {"inet_diag"},
	"kernel/lib/libcrc32c.ko":                     nil,
	"kernel/net/netfilter/nfnetlink.ko":           nil,
	"kernel/net/netfilter/nf_tables.ko":           {"nfnetlink", "libcrc32c"},
	"kernel/net/netfilter/nft_numgen.ko":          {"nf_tables"},
	"kernel/net/netfilter/nft_limit.ko":           {"nf_tables"},
	"kernel/net/netfilter/nft_compat.ko":          {"nf_tables"},
	"kernel/net/netfilter/nfnetlink_queue.ko":     {"nfnetlink"},
	"kernel/net/netfilter/x_tables.ko":            nil,
	"kernel/net/netfilter/xt_NFQUEUE.ko":          {"x_tables"},
	"kernel/net/netfilter/nft_reject.ko":          {"nf_tables"},
	"kernel/net/ipv4/netfilter/nf_reject_ipv4.ko": nil,
	"kernel/net/ipv6/netfilter/nf_reject_ipv6.ko": nil,
	"kernel/net/netfilter/nft_reject_inet.ko":     {"nf_tables", "nft_reject", "nf_reject_ipv4", "nf_reject_ipv6"},
	"kernel/net/sched/sch_tbf.ko":                 nil,
	"kernel/net/sched/sch_htb.ko":                 nil,
	"kernel/net/sched/sch_netem.ko":               nil,
	"kernel/net/sched/sch_ingress.ko":             nil,
	"kernel/fs/ext4/ext4.ko":                      nil,
}

// kernelPackage is a fixture kernel .deb.
type kernelPackage struct {
	release string
	data    string // the data member's name: data.tar.xz, data.tar.gz, data.tar, …
	ext     string // the modules' extension: .ko, or .ko.xz (compressed)
	drop    string // a module left out of the package
}

// vmlinuzFixture is what the fixture boots: not a bzImage, so Unpack keeps
// it as it is.
var vmlinuzFixture = []byte("fixture kernel image, not a bzImage")

// build returns the package and the modules' bytes by the name Unpack
// gives them (modules/NAME.ko…).
func (p kernelPackage) build() ([]byte, map[string][]byte) {
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	file := func(name string, b []byte) {
		must(tw.WriteHeader(&tar.Header{Name: "./" + name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(b)
		must(err)
	}
	for _, d := range []string{"", "boot/", "lib/", "lib/modules/", "lib/modules/" + p.release + "/"} {
		must(tw.WriteHeader(&tar.Header{Name: "./" + d, Mode: 0o755, Typeflag: tar.TypeDir}))
	}
	file("boot/config-"+p.release, []byte("CONFIG_VETH=m\n"))
	file("boot/vmlinuz-"+p.release, vmlinuzFixture)
	must(tw.WriteHeader(&tar.Header{Name: "./lib/modules/" + p.release + "/build", Linkname: "/usr/src/linux-headers-" + p.release, Typeflag: tar.TypeSymlink}))
	mods := map[string][]byte{}
	paths := make([]string, 0, len(fixtureModules))
	for rel := range fixtureModules {
		paths = append(paths, rel)
	}
	sort.Strings(paths)
	for _, rel := range paths {
		name := strings.TrimSuffix(path.Base(rel), ".ko")
		if name == p.drop {
			continue
		}
		b := modObject(name, fixtureModules[rel])
		if p.ext == ".ko.xz" {
			b = xzBytes(b)
		}
		mods["modules/"+name+p.ext] = b
		file("lib/modules/"+p.release+"/"+rel+strings.TrimPrefix(p.ext, ".ko"), b)
	}
	must(tw.Close())
	body := data.Bytes()
	switch path.Ext(p.data) {
	case ".xz":
		body = xzBytes(body)
	case ".gz":
		body = gzBytes(body)
	}
	return arArchive(
		arMember{"debian-binary", []byte("2.0\n")},
		arMember{"control.tar.xz", []byte("odd")}, // an odd size: the next member starts after a pad byte
		arMember{p.data, body},
	), mods
}

// fixturePackage is one package of a fixture archive's suite.
type fixturePackage struct{ name, version string }

// deb is the package's file name in the pool, as apt-get download names it too.
func (p fixturePackage) deb() string { return p.name + "_" + p.version + "_amd64.deb" }

// body is the .deb's content: Fetch verifies it, never reads it.
func (p fixturePackage) body() []byte { return []byte(strings.Repeat(p.deb()+"\n", 100)) }

// fixtureSuite is one suite of a fixture archive.
type fixtureSuite struct {
	repo, suite string // URL path under the server, suite name
	release     string // InRelease, or Release where the mirror has only that
	served      string // the form of Packages the mirror serves: .xz, .gz or ""
	packages    []fixturePackage
}

// fixtureArchive serves suites as deb.debian.org lays them out: each
// suite's Release lists Packages in every form, the mirror serves only
// one. tamper flips a byte of the file whose URL path ends with it. It
// returns the sources and a count of the .debs downloaded.
func fixtureArchive(t *testing.T, suites []fixtureSuite, tamper string) ([]debian.Source, *atomic.Int32) {
	t.Helper()
	files := map[string][]byte{}
	for _, s := range suites {
		var pk bytes.Buffer
		for _, p := range s.packages {
			b := p.body()
			sum := sha256.Sum256(b)
			filename := "pool/main/l/linux/" + p.deb()
			files["/"+s.repo+"/"+filename] = b
			fmt.Fprintf(&pk, "Package: %s\nSource: linux\nVersion: %s\nArchitecture: amd64\nFilename: %s\nSize: %d\nSHA256: %s\n"+
				"Description: Linux for x86-64 cloud (fixture)\n The continuation of a description: with a colon.\n\n",
				p.name, p.version, filename, len(b), hex.EncodeToString(sum[:]))
		}
		forms := map[string][]byte{"": pk.Bytes(), ".gz": gzBytes(pk.Bytes()), ".xz": xzBytes(pk.Bytes())}
		base := "/" + s.repo + "/dists/" + s.suite + "/"
		var rel bytes.Buffer
		if s.release == "InRelease" {
			rel.WriteString("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n")
		}
		fmt.Fprintf(&rel, "Origin: Debian\nSuite: %s\nMD5Sum:\n 00000000000000000000000000000000 1 main/binary-amd64/Packages\nSHA256:\n", s.suite)
		for _, ext := range []string{"", ".gz", ".xz"} {
			sum := sha256.Sum256(forms[ext])
			fmt.Fprintf(&rel, " %s %d main/binary-amd64/Packages%s\n", hex.EncodeToString(sum[:]), len(forms[ext]), ext)
		}
		if s.release == "InRelease" {
			rel.WriteString("-----BEGIN PGP SIGNATURE-----\n\nnot checked\n-----END PGP SIGNATURE-----\n")
		}
		files[base+s.release] = rel.Bytes()
		files[base+"main/binary-amd64/Packages"+s.served] = forms[s.served]
	}
	debs := &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(r.URL.Path, ".deb") {
			debs.Add(1)
		}
		if tamper != "" && strings.HasSuffix(r.URL.Path, tamper) {
			b = bytes.Clone(b)
			b[len(b)/2] ^= 1
		}
		if _, err := w.Write(b); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(srv.Close)
	var sources []debian.Source
	for _, s := range suites {
		sources = append(sources, debian.Source{URL: srv.URL + "/" + s.repo, Suite: s.suite, Component: "main"})
	}
	return sources, debs
}
