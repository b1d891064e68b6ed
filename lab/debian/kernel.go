package debian

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Modules are the modules the lab loads in a VM, with their dependencies:
// veth joins the namespaces; inet_diag/tcp_diag serve the listener queries
// (sock_diag); nf_tables and the sch_* qdiscs are the impairments, and
// nfnetlink_queue with xt_NFQUEUE (the rule's target, through nft_compat)
// the delay line, so that netem and the delay line both run on one kernel.
var Modules = []string{"veth", "inet_diag", "tcp_diag",
	"nf_tables", "nft_numgen", "nft_limit", "nft_reject_inet", "nft_compat",
	"nfnetlink_queue", "xt_NFQUEUE",
	"sch_tbf", "sch_htb", "sch_netem", "sch_ingress", "ifb"}

// moduleDirs are the parts of /lib/modules/RELEASE/kernel where the
// modules above and their dependencies live; only these are held in memory
// while the package is read.
var moduleDirs = []string{"kernel/net/", "kernel/drivers/net/", "kernel/lib/", "kernel/crypto/", "kernel/arch/x86/crypto/"}

// Kernel is an unpacked kernel: its image and the modules in load order.
type Kernel struct {
	Release string   `json:"release"` // uname -r, e.g. 6.1.0-56-cloud-amd64
	Deb     string   `json:"deb"`     // the package's file name
	Dir     string   `json:"-"`
	Vmlinuz string   `json:"vmlinuz"` // what QEMU boots (vmlinux where Vmlinux works), relative to Dir
	Modules []string `json:"modules"` // relative to Dir, dependencies first
	// Needs maps each of the package-level Modules to what loading it
	// takes: its dependencies and itself, in load order.
	Needs   map[string][]string `json:"needs"`
	Version string              `json:"version"` // the package's, e.g. 6.1.192-2
	Format  int                 `json:"format"`  // manifestFormat; older unpacks are redone
}

// manifestFormat changes when Kernel gains fields an older unpack lacks.
const manifestFormat = 4

// Files returns the module files (relative to Dir) that loading names
// takes, in load order.
func (k *Kernel) Files(names ...string) ([]string, error) {
	want := map[string]bool{}
	for _, n := range names {
		files, ok := k.Needs[n]
		if !ok {
			return nil, fmt.Errorf("%s: %w (the lab unpacks %v)", n, ErrModule, Modules)
		}
		for _, f := range files {
			want[f] = true
		}
	}
	var out []string
	for _, m := range k.Modules {
		if want[m] {
			out = append(out, m)
		}
	}
	return out, nil
}

// Package names the package k was unpacked from as apt names one version
// of it, NAME=VERSION: the release alone does not say which upload booted,
// and `apt-get download NAME=VERSION` fetches the same .deb again.
func (k *Kernel) Package() string {
	name, _, _ := strings.Cut(k.Deb, "_")
	if k.Version == "" {
		return name
	}
	return name + "=" + k.Version
}

// Path returns a file of k as an absolute path.
func (k *Kernel) Path(rel string) string { return filepath.Join(k.Dir, filepath.FromSlash(rel)) }

// manifest names the file that marks a complete unpack.
const manifest = "kernel.json"

// Unpack extracts vmlinuz and Modules (with what they depend on, from each
// module's own .modinfo: the package has no modules.dep) from a kernel .deb
// into dir/RELEASE, unless that was done before.
func Unpack(deb, dir string) (*Kernel, error) {
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if k, err := Load(filepath.Join(dir, e.Name())); err == nil && k.Deb == filepath.Base(deb) && k.current() {
				return k, nil
			}
		}
	}
	f, err := os.Open(deb)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := DataTar(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", deb, err)
	}
	var vmlinuz []byte
	var release string
	mods := map[string]string{} // module name → path under lib/modules/RELEASE
	data := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", deb, err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if h.Typeflag != tar.TypeReg {
			continue
		}
		switch {
		case strings.HasPrefix(name, "boot/vmlinuz-"):
			release = strings.TrimPrefix(name, "boot/vmlinuz-")
			if vmlinuz, err = io.ReadAll(tr); err != nil {
				return nil, err
			}
		case strings.HasPrefix(name, "lib/modules/") && (strings.HasSuffix(name, ".ko") || strings.HasSuffix(name, ".ko.xz")):
			rel := name[strings.Index(name[len("lib/modules/"):], "/")+len("lib/modules/")+1:]
			base := strings.TrimSuffix(strings.TrimSuffix(path.Base(rel), ".xz"), ".ko")
			mods[strings.ReplaceAll(base, "-", "_")] = rel
			for _, d := range moduleDirs {
				if strings.HasPrefix(rel, d) {
					if data[rel], err = io.ReadAll(tr); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	if vmlinuz == nil {
		return nil, fmt.Errorf("%s: no boot/vmlinuz-* in the package", deb)
	}
	k := &Kernel{Release: release, Deb: filepath.Base(deb), Dir: filepath.Join(dir, release), Vmlinuz: "vmlinuz", Format: manifestFormat}
	if _, v, ok := strings.Cut(filepath.Base(deb), "_"); ok {
		k.Version, _, _ = strings.Cut(v, "_")
	}
	order, err := loadOrder(Modules, mods, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", deb, err)
	}
	k.Needs = map[string][]string{}
	for _, m := range Modules {
		closure, err := loadOrder([]string{m}, mods, data)
		if err != nil {
			return nil, err
		}
		for _, rel := range closure {
			k.Needs[m] = append(k.Needs[m], "modules/"+path.Base(rel))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dir, ".unpack-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	files := map[string][]byte{"vmlinuz": vmlinuz}
	if elfKernel, err := Vmlinux(vmlinuz); err == nil {
		files["vmlinux"] = elfKernel
		k.Vmlinuz = "vmlinux"
	}
	for _, rel := range order {
		m := "modules/" + path.Base(rel)
		files[m] = data[rel]
		k.Modules = append(k.Modules, m)
	}
	b, _ := json.MarshalIndent(k, "", "  ")
	files[manifest] = b
	for name, b := range files {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
	}
	_ = os.RemoveAll(k.Dir) // an earlier unpack that did not finish
	if err := os.Rename(tmp, k.Dir); err != nil {
		return nil, err
	}
	return k, nil
}

// current says whether k's unpack serves this lab: the manifest's format,
// and every module in Modules (an unpack for a shorter list is redone).
func (k *Kernel) current() bool {
	if k.Format != manifestFormat {
		return false
	}
	for _, m := range Modules {
		if _, ok := k.Needs[m]; !ok {
			return false
		}
	}
	return true
}

// Load reads a kernel unpacked before into dir.
func Load(dir string) (*Kernel, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifest))
	if err != nil {
		return nil, err
	}
	k := &Kernel{Dir: dir}
	if err := json.Unmarshal(b, k); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return k, nil
}

// ErrModule is returned when a module or a dependency is not in the package.
var ErrModule = errors.New("module not in the package")

// loadOrder resolves want and their dependencies into a load order,
// dependencies first.
func loadOrder(want []string, mods map[string]string, data map[string][]byte) ([]string, error) {
	var order []string
	done := map[string]bool{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		if done[name] {
			return nil
		}
		rel, ok := mods[name]
		if !ok || data[rel] == nil {
			return fmt.Errorf("%w: %s (needed by %s)", ErrModule, name, strings.Join(chain, " ← "))
		}
		info, err := ModInfo(data[rel])
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		deps := strings.FieldsFunc(info["depends"], func(r rune) bool { return r == ',' })
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		done[name] = true
		order = append(order, rel)
		return nil
	}
	for _, m := range want {
		if err := visit(m, []string{"the lab"}); err != nil {
			return nil, err
		}
	}
	return order, nil
}
