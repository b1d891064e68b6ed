package debian

import (
	"encoding/binary"
	"errors"
)

var errLZ4 = errors.New("corrupt lz4 data")

// lz4Legacy decompresses the LZ4 legacy frame format the kernel's build
// uses for its payload (lz4 -l): a magic, then blocks each preceded by its
// compressed size, each decompressing to at most 8 MiB.
func lz4Legacy(in []byte) ([]byte, error) {
	const magic = 0x184C2102
	if len(in) < 4 || binary.LittleEndian.Uint32(in) != magic {
		return nil, errLZ4
	}
	in = in[4:]
	var out []byte
	for len(in) >= 4 {
		n := int(binary.LittleEndian.Uint32(in))
		in = in[4:]
		if n == magic { // concatenated frames
			continue
		}
		if n > len(in) {
			return nil, errLZ4
		}
		var err error
		if out, err = lz4Block(out, in[:n]); err != nil {
			return nil, err
		}
		in = in[n:]
	}
	return out, nil
}

// lz4Block appends the decompression of one LZ4 block to out; matches may
// reach back into earlier blocks (the legacy format links them).
func lz4Block(out, in []byte) ([]byte, error) {
	for i := 0; i < len(in); {
		token := in[i]
		i++
		lit := int(token >> 4)
		if lit == 15 {
			for {
				if i >= len(in) {
					return nil, errLZ4
				}
				b := in[i]
				i++
				lit += int(b)
				if b != 255 {
					break
				}
			}
		}
		if i+lit > len(in) {
			return nil, errLZ4
		}
		out = append(out, in[i:i+lit]...)
		i += lit
		if i == len(in) { // the last sequence has literals only
			break
		}
		if i+2 > len(in) {
			return nil, errLZ4
		}
		off := int(binary.LittleEndian.Uint16(in[i:]))
		i += 2
		ml := int(token&15) + 4
		if token&15 == 15 {
			for {
				if i >= len(in) {
					return nil, errLZ4
				}
				b := in[i]
				i++
				ml += int(b)
				if b != 255 {
					break
				}
			}
		}
		if off == 0 || off > len(out) {
			return nil, errLZ4
		}
		start := len(out) - off
		for k := 0; k < ml; k++ { // byte by byte: a match may overlap its own output
			out = append(out, out[start+k])
		}
	}
	return out, nil
}
