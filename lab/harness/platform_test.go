package harness

import (
	"strings"
	"testing"
)

func TestDaemonPlatform(t *testing.T) {
	for _, tc := range []struct {
		osType, arch string
		want         string
		wantErr      string // a substring of the error; "" for none
	}{
		{"linux", "x86_64", "linux/amd64", ""},
		{"linux", "amd64", "linux/amd64", ""},
		{"linux", "aarch64", "linux/arm64", ""},
		{"linux", "arm64", "linux/arm64", ""},
		{"linux", "AARCH64", "linux/arm64", ""},
		{"linux", "armv7l", "", `"armv7l"`},
		{"linux", "s390x", "", `"s390x"`},
		{"linux", "", "", `architecture ""`},
		{"windows", "x86_64", "", "Linux containers"},
	} {
		p, err := DaemonPlatform(tc.osType, tc.arch)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("DaemonPlatform(%q, %q) = %v, %v; want an error naming %s", tc.osType, tc.arch, p, err, tc.wantErr)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("DaemonPlatform(%q, %q) = %v, %v; want %s", tc.osType, tc.arch, p, err, tc.want)
		}
	}
}

func TestChoosePlatformOverride(t *testing.T) {
	for _, tc := range []struct {
		env     string
		want    string
		wantErr bool
	}{
		{"", "linux/amd64", false}, // no override: the daemon's (x86_64)
		{"linux/arm64", "linux/arm64", false},
		{"linux/aarch64", "linux/arm64", false},
		{" Linux/AMD64 ", "linux/amd64", false},
		{"linux/armv7", "", true},
		{"darwin/arm64", "", true},
		{"arm64", "", true},
	} {
		t.Setenv(EnvPlatform, tc.env)
		p, err := choosePlatform("linux", "x86_64")
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), EnvPlatform) {
				t.Errorf("%s=%q: %v, %v; want an error naming %s", EnvPlatform, tc.env, p, err, EnvPlatform)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("%s=%q: %v, %v; want %s", EnvPlatform, tc.env, p, err, tc.want)
		}
	}
}
