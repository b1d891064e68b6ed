package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The units of tcplab impair and of the sidecar's own flags.

// parseFraction reads "1%" as 0.01 and "0.01" as itself.
func parseFraction(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, errors.New("want a percentage (1%) or a fraction (0.01)")
	}
	if pct {
		f /= 100
	}
	if !(f >= 0 && f <= 1) {
		return 0, errors.New("want 0 to 100 %")
	}
	return f, nil
}

// parseRate reads tc's bit units: bit, kbit, mbit, gbit (decimal).
func parseRate(s string) (int64, error) {
	l := strings.ToLower(s)
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
		if n, ok := strings.CutSuffix(l, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil || f <= 0 {
				break
			}
			return int64(f * u.mult), nil
		}
	}
	return 0, errors.New("want a rate such as 500kbit, 1mbit or 1gbit")
}

// parseList reads flag's comma-separated value, each item with parse,
// which says what an item must be when it is not; "" is no items.
func parseList[T any](flag, list string, parse func(string) (T, string)) ([]T, error) {
	if list == "" {
		return nil, nil
	}
	var out []T
	for _, item := range strings.Split(list, ",") {
		v, want := parse(strings.TrimSpace(item))
		if want != "" {
			return nil, fmt.Errorf("%s %q: %q is not %s", flag, list, item, want)
		}
		out = append(out, v)
	}
	return out, nil
}

// port parses a TCP port for parseList.
func port(s string) (int, string) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, "a port"
	}
	return n, ""
}

// ipv4 parses an IPv4 address for parseList.
func ipv4(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, "an IPv4 address"
	}
	return a, ""
}
