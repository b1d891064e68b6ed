package debian

import "strings"

// CompareVersions orders Debian package versions as dpkg does (without
// epochs, which kernel packages do not use): digit runs compare as numbers,
// other characters by ASCII with letters before non-letters and "~" before
// everything, even the end. It returns -1, 0 or 1.
func CompareVersions(a, b string) int {
	for a != "" || b != "" {
		var x, y string
		x, a = span(a, false)
		y, b = span(b, false)
		if c := compareText(x, y); c != 0 {
			return c
		}
		x, a = span(a, true)
		y, b = span(b, true)
		x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
		if len(x) != len(y) {
			return sign(len(x) - len(y))
		}
		if x != y {
			return sign(strings.Compare(x, y))
		}
	}
	return 0
}

// span splits s after its leading run of digits (or of non-digits).
func span(s string, digits bool) (string, string) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9') == digits {
		i++
	}
	return s[:i], s[i:]
}

func compareText(a, b string) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		if c := order(a, i) - order(b, i); c != 0 {
			return sign(c)
		}
	}
	return 0
}

// order is dpkg's weight of s[i]: the end is 0, "~" below it.
func order(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	switch c := s[i]; {
	case c == '~':
		return -1
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	default:
		return int(c) + 256
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
