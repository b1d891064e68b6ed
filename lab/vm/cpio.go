package vm

import (
	"fmt"
	"io"
	"path"
	"sort"
)

// File is one entry of an initramfs.
type File struct {
	Mode         uint32 // type and permission bits, as in stat(2)
	Data         []byte
	Major, Minor uint32 // of a device node
}

// Mode bits of the entries an initramfs needs.
const (
	ModeDir  = 0o040000
	ModeReg  = 0o100000
	ModeChar = 0o020000
)

// WriteCpio writes files as a newc cpio archive (the initramfs format),
// parents before children.
func WriteCpio(w io.Writer, files map[string]File) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names) // "a" sorts before "a/b"
	ino := uint32(1)
	for _, n := range append(names, "TRAILER!!!") {
		f := files[n]
		if n == "TRAILER!!!" {
			f = File{}
		} else if dir := path.Dir(n); dir != "." {
			if _, ok := files[dir]; !ok {
				return fmt.Errorf("cpio: %s has no parent directory entry", n)
			}
		}
		nlink := 1
		if f.Mode&0o170000 == ModeDir {
			nlink = 2
		}
		hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, f.Mode, 0, 0, nlink, 0, len(f.Data), 0, 0, f.Major, f.Minor, len(n)+1, 0)
		ino++
		if _, err := io.WriteString(w, hdr+n+"\x00"+pad(len(hdr)+len(n)+1)); err != nil {
			return err
		}
		if _, err := w.Write(f.Data); err != nil {
			return err
		}
		if _, err := io.WriteString(w, pad(len(f.Data))); err != nil {
			return err
		}
	}
	return nil
}

// pad returns the NULs that align n to 4 bytes.
func pad(n int) string { return "\x00\x00\x00"[:(4-n%4)%4] }
