package debian

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"

	"github.com/klauspost/compress/zstd"
)

// errNoVmlinux says a bzImage's payload cannot be turned into a bootable
// vmlinux here; the bzImage is then booted as it is.
var errNoVmlinux = errors.New("no PVH vmlinux in this bzImage")

// Vmlinux returns the uncompressed kernel ELF inside a bzImage when its
// payload is zstd (Debian's 6.12) or lz4 (6.1) and it has a PVH entry note: QEMU then
// boots it directly, skipping the kernel's self-decompression, which costs
// about a second under software emulation.
func Vmlinux(bz []byte) ([]byte, error) {
	if len(bz) < 0x250 || string(bz[0x202:0x206]) != "HdrS" {
		return nil, errNoVmlinux
	}
	setup := int(bz[0x1f1])
	if setup == 0 {
		setup = 4
	}
	start := (setup + 1) * 512
	off := int(binary.LittleEndian.Uint32(bz[0x248:]))
	n := int(binary.LittleEndian.Uint32(bz[0x24c:]))
	if start+off+n > len(bz) || n < 8 {
		return nil, errNoVmlinux
	}
	// The kernel appends the decompressed size (4 bytes) to the payload.
	payload := bz[start+off : start+off+n-4]
	var out []byte
	var err error
	switch {
	case bytes.HasPrefix(payload, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		out, err = unzstd(payload)
	case bytes.HasPrefix(payload, []byte{0x02, 0x21, 0x4c, 0x18}):
		out, err = lz4Legacy(payload)
	default:
		return nil, errNoVmlinux
	}
	if err != nil {
		return nil, err
	}
	if !hasPVHNote(out) {
		return nil, errNoVmlinux
	}
	return out, nil
}

// hasPVHNote looks for XEN_ELFNOTE_PHYS32_ENTRY (type 18), the entry
// point QEMU uses to boot an ELF kernel.
func hasPVHNote(obj []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return false
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			continue
		}
		for len(b) >= 12 {
			nameSz := int(binary.LittleEndian.Uint32(b))
			descSz := int(binary.LittleEndian.Uint32(b[4:]))
			typ := binary.LittleEndian.Uint32(b[8:])
			name := b[12:min(len(b), 12+nameSz)]
			if typ == 18 && bytes.HasPrefix(name, []byte("Xen")) {
				return true
			}
			next := 12 + (nameSz+3)&^3 + (descSz+3)&^3
			if next > len(b) {
				break
			}
			b = b[next:]
		}
	}
	return false
}

func unzstd(b []byte) ([]byte, error) {
	d, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderMaxWindow(1<<30))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return io.ReadAll(d)
}
