package debian

import (
	"errors"
	"testing"
)

func TestLZ4Block(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		want    string
		wantErr error
	}{
		// token 0x32: 3 literals, match length 2+4 at offset 3 (overlapping), then "x".
		{"overlapping match", []byte{0x32, 'a', 'b', 'c', 3, 0, 0x10, 'x'}, "abcabcabcx", nil},
		// 15+4 literals through the extension byte.
		{"long literal run", append([]byte{0xf0, 4}, "0123456789abcdefghi"...), "0123456789abcdefghi", nil},
		{"offset before the start", []byte{0x10, 'a', 5, 0, 0x00}, "", errLZ4},
		{"truncated literals", []byte{0x50, 'a'}, "", errLZ4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lz4Block(nil, tc.in)
			if !errors.Is(err, tc.wantErr) || string(got) != tc.want {
				t.Errorf("lz4Block = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
