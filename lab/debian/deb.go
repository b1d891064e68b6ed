package debian

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"
)

// ErrNotDeb is returned for a file that is not a Debian binary package.
var ErrNotDeb = errors.New("not a .deb (ar archive with data.tar)")

// DataTar returns a reader of a .deb's data.tar (its ar member data.tar.xz,
// .gz or uncompressed), positioned inside r.
func DataTar(r io.Reader) (*tar.Reader, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, ErrNotDeb
	}
	hdr := make([]byte, 60)
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			return nil, fmt.Errorf("%w: no data.tar member", ErrNotDeb)
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || string(hdr[58:60]) != "`\n" {
			return nil, fmt.Errorf("%w: bad ar header", ErrNotDeb)
		}
		body := io.LimitReader(br, size)
		switch name {
		case "data.tar.xz":
			x, err := xz.NewReader(body)
			if err != nil {
				return nil, err
			}
			return tar.NewReader(x), nil
		case "data.tar.gz":
			z, err := gzip.NewReader(body)
			if err != nil {
				return nil, err
			}
			return tar.NewReader(z), nil
		case "data.tar":
			return tar.NewReader(body), nil
		}
		if strings.HasPrefix(name, "data.tar") {
			return nil, fmt.Errorf("%w: unsupported member %s", ErrNotDeb, name)
		}
		if _, err := io.Copy(io.Discard, io.LimitReader(br, size+size%2)); err != nil {
			return nil, err
		}
	}
}

// ModInfo returns a kernel module's .modinfo fields ("depends", "name", …)
// from its bytes (.ko or .ko.xz).
func ModInfo(ko []byte) (map[string]string, error) {
	if bytes.HasPrefix(ko, []byte{0xfd, '7', 'z', 'X', 'Z', 0}) {
		r, err := xz.NewReader(bytes.NewReader(ko))
		if err != nil {
			return nil, err
		}
		if ko, err = io.ReadAll(r); err != nil {
			return nil, err
		}
	}
	sec, err := elfSection(ko, ".modinfo")
	if err != nil {
		return nil, err
	}
	info := map[string]string{}
	for _, kv := range bytes.Split(sec, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			info[k] = v
		}
	}
	return info, nil
}

// elfSection returns one section of an ELF object held in memory.
func elfSection(obj []byte, name string) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, err
	}
	s := f.Section(name)
	if s == nil {
		return nil, fmt.Errorf("no %s section", name)
	}
	return s.Data()
}
