package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/debian"
)

// ErrNoQEMU is returned when qemu-system-x86_64 is not installed.
var ErrNoQEMU = errors.New("qemu-system-x86_64 not found")

// Machine is how a VM is booted: which kernel, which lab binary as /init.
type Machine struct {
	Kernel *debian.Kernel
	// Binary is a static linux/amd64 build of the lab (lab/cmd/tcplab).
	Binary string
	// QEMU is the emulator's path; LookPath("qemu-system-x86_64") when empty.
	QEMU string
	// Accel is "tcg" (software emulation, -cpu max), "kvm" (-cpu host) or
	// "auto"/"" (kvm where ProbeKVM passes, else tcg). A KVM boot that does
	// not reach /init is retried once with tcg.
	Accel string
	// Append is added to the kernel command line (before "--").
	Append string
	// Console, when set, receives the guest's console as it comes.
	Console io.Writer
}

// Run is what one boot produced.
type Run struct {
	// Result is the result role's JSON (a scenario.Result; decoded by the
	// caller, so that this package builds on hosts lab/scenario does not).
	Result json.RawMessage
	// Sysctls are Config.Facts as each role host's namespace had them
	// (role → name → value); a name the kernel lacks is not in the map.
	Sysctls map[string]map[string]string
	// Counters are Config.Counters per role host after the run.
	Counters map[string]map[string]int64
	Console  string        // everything the guest printed
	Accel    string        // "tcg" or "kvm"
	Boot     time.Duration // QEMU start → /init's first line
	Total    time.Duration // QEMU start → QEMU gone
}

// QEMUPath returns the emulator, or an error saying in one line how to
// install it on this OS.
func QEMUPath() (string, error) {
	p, err := exec.LookPath("qemu-system-x86_64")
	if err == nil {
		return p, nil
	}
	how := map[string]string{
		"linux":   "apt-get install qemu-system-x86 (Debian, Ubuntu) or dnf install qemu-system-x86 (Fedora)",
		"darwin":  "brew install qemu",
		"windows": "winget install SoftwareFreedomConservancy.QEMU, then add its folder to PATH",
	}[runtime.GOOS]
	if how == "" {
		how = "install QEMU's x86_64 system emulator"
	}
	return "", fmt.Errorf("%w: %s", ErrNoQEMU, how)
}

// Run boots the VM with cfg, waits for the result role's JSON on the
// console and returns it. QEMU is killed when ctx ends or timeout passes,
// and the initramfs is removed, whatever happens.
func (m *Machine) Run(ctx context.Context, cfg Config, timeout time.Duration) (*Run, error) {
	accel := m.accel()
	run, err := m.boot(ctx, cfg, timeout, accel)
	if err != nil && accel == "kvm" && run != nil && run.Boot == 0 && ctx.Err() == nil {
		return m.boot(ctx, cfg, timeout, "tcg") // the probe passed but the guest did not come up
	}
	return run, err
}

func (m *Machine) boot(ctx context.Context, cfg Config, timeout time.Duration, accel string) (*Run, error) {
	qemu := m.QEMU
	if qemu == "" {
		var err error
		if qemu, err = QEMUPath(); err != nil {
			return nil, err
		}
	}
	if cfg.Facts == nil {
		cfg.Facts = DefaultFacts
	}
	if cfg.Counters == nil {
		cfg.Counters = DefaultCounters
	}
	if cfg.Seconds == 0 {
		cfg.Seconds = int(timeout / time.Second)
	}
	tmp, err := os.MkdirTemp("", fmt.Sprintf("%s%d-*", tempPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	initrd := filepath.Join(tmp, "initrd.cpio")
	if err := m.initramfs(initrd, cfg); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, m.args(initrd, accel)...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	run := &Run{Accel: accel, Sysctls: map[string]map[string]string{}, Counters: map[string]map[string]int64{}}
	var console strings.Builder
	var once sync.Once
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var guestErr string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		console.WriteString(line + "\n")
		if m.Console != nil {
			fmt.Fprintln(m.Console, line)
		}
		switch {
		case strings.HasPrefix(line, UpMarker):
			once.Do(func() { run.Boot = time.Since(start) })
		case strings.HasPrefix(line, ResultMarker):
			res := json.RawMessage(strings.TrimPrefix(line, ResultMarker))
			if !json.Valid(res) {
				guestErr = "unreadable result: " + line
				continue
			}
			run.Result = res
		case strings.HasPrefix(line, FactMarker):
			role, fact, _ := strings.Cut(strings.TrimPrefix(line, FactMarker), " ")
			if name, v, ok := strings.Cut(fact, "="); ok {
				if run.Sysctls[role] == nil {
					run.Sysctls[role] = map[string]string{}
				}
				run.Sysctls[role][name] = v
			}
		case strings.HasPrefix(line, CounterMarker):
			role, c, _ := strings.Cut(strings.TrimPrefix(line, CounterMarker), " ")
			name, v, _ := strings.Cut(c, "=")
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				if run.Counters[role] == nil {
					run.Counters[role] = map[string]int64{}
				}
				run.Counters[role][name] = n
			}
		case strings.HasPrefix(line, ErrorMarker):
			guestErr = strings.TrimPrefix(line, ErrorMarker)
		}
	}
	werr := cmd.Wait()
	run.Total = time.Since(start)
	run.Console = console.String()
	switch {
	case run.Result != nil:
		return run, nil
	case ctx.Err() != nil:
		return run, fmt.Errorf("vm %s: no result within %v: %w", m.Kernel.Release, timeout, ctx.Err())
	case guestErr != "":
		return run, fmt.Errorf("vm %s: %s", m.Kernel.Release, guestErr)
	}
	return run, fmt.Errorf("vm %s: QEMU ended without a result (%v) %s", m.Kernel.Release, werr, strings.TrimSpace(stderr.String()))
}

func (m *Machine) args(initrd, accel string) []string {
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	a := []string{"-accel", accel, "-cpu", cpu, "-m", "512", "-smp", "1", "-net", "none"}
	// qboot starts in milliseconds where SeaBIOS takes about a second.
	if _, err := os.Stat("/usr/share/qemu/qboot.rom"); err == nil {
		a = append(a, "-bios", "/usr/share/qemu/qboot.rom")
	}
	return append(a, "-kernel", m.Kernel.Path(m.Kernel.Vmlinuz), "-initrd", initrd,
		"-append", strings.TrimSpace("console=ttyS0 quiet panic=-1 no_timer_check "+m.Append)+" -- vminit", "-nographic", "-no-reboot")
}

// initramfs writes the cpio: /init (the lab binary), /dev/console, the
// kernel's modules and the run's config.
func (m *Machine) initramfs(dst string, cfg Config) error {
	bin, err := os.ReadFile(m.Binary)
	if err != nil {
		return err
	}
	files := map[string]File{
		"init": {Mode: ModeReg | 0o755, Data: bin}, "dev": {Mode: ModeDir | 0o755},
		"dev/console": {Mode: ModeChar | 0o600, Major: 5, Minor: 1},
		"proc":        {Mode: ModeDir | 0o555}, "sys": {Mode: ModeDir | 0o555},
		"tmp": {Mode: ModeDir | 0o1777}, "etc": {Mode: ModeDir | 0o755},
		"lib": {Mode: ModeDir | 0o755}, "lib/modules": {Mode: ModeDir | 0o755},
		"tcplab": {Mode: ModeDir | 0o755},
	}
	names := cfg.Modules
	if names == nil {
		names = BaseModules
	}
	mods, err := m.Kernel.Files(names...)
	if err != nil {
		return err
	}
	cfg.ModuleFiles = nil
	for _, rel := range mods {
		b, err := os.ReadFile(m.Kernel.Path(rel))
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(ModuleDir, "/") + "/" + path.Base(rel)
		files[name] = File{Mode: ModeReg | 0o644, Data: b}
		cfg.ModuleFiles = append(cfg.ModuleFiles, "/"+name)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	files[strings.TrimPrefix(ConfigPath, "/")] = File{Mode: ModeReg | 0o644, Data: b}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := WriteCpio(w, files); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tempPrefix starts the name of a run's temporary directory, followed by
// the lab's pid, so that CleanStale can tell a killed run's leftovers.
const tempPrefix = "tcplab-vm-"

// CleanStale removes the temporary directories of runs whose process is
// gone (killed before it could remove them) and returns what it removed.
func CleanStale() ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, d := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), tempPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		alive, err := processAlive(pid)
		if err != nil {
			return removed, err
		}
		if alive {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, d)
	}
	return removed, errors.Join(errs...)
}
