package harness

import (
	"fmt"
	"os"
	"strings"
)

// EnvPlatform overrides the platform of the lab's containers
// ("linux/arm64"); `tcplab run --platform` sets it. Without it the lab
// asks the daemon, so an Apple Silicon Mac gets linux/arm64 containers and
// a Windows laptop linux/amd64, whatever the host's own GOOS/GOARCH.
const EnvPlatform = "TCPLAB_PLATFORM"

// Platform is the OS and architecture the lab's container binary is built
// for: always Linux, since the scenarios measure Linux's TCP stack.
type Platform struct {
	OS   string // GOOS: "linux"
	Arch string // GOARCH: "amd64" or "arm64"
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// supported are the platforms the lab builds containers for.
var supported = map[string]Platform{
	"linux/amd64": {"linux", "amd64"},
	"linux/arm64": {"linux", "arm64"},
}

// archAliases maps the names daemons report (uname -m, as `docker info`
// shows Architecture) to GOARCH.
var archAliases = map[string]string{
	"x86_64": "amd64", "amd64": "amd64",
	"aarch64": "arm64", "arm64": "arm64",
}

// ParsePlatform parses "linux/amd64" or "linux/arm64" (case-insensitive;
// uname names such as linux/x86_64 and linux/aarch64 are accepted too).
func ParsePlatform(s string) (Platform, error) {
	osName, arch, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "/")
	if a, known := archAliases[arch]; known {
		arch = a
	}
	if p, found := supported[osName+"/"+arch]; ok && found {
		return p, nil
	}
	return Platform{}, fmt.Errorf("platform %q: the lab's containers are linux/amd64 or linux/arm64", s)
}

// DaemonPlatform maps what the Docker daemon reports (Info.OSType and
// Info.Architecture) to the platform its containers run.
func DaemonPlatform(osType, arch string) (Platform, error) {
	if osType != "linux" {
		return Platform{}, fmt.Errorf("the Docker daemon runs %q containers; the lab needs Linux containers (on Docker Desktop for Windows: switch to Linux containers)", osType)
	}
	a, ok := archAliases[strings.ToLower(arch)]
	if !ok {
		return Platform{}, fmt.Errorf("the Docker daemon's architecture %q is not one the lab builds for (x86_64/amd64, aarch64/arm64); set %s=linux/amd64 or linux/arm64 if it can run one under emulation", arch, EnvPlatform)
	}
	return supported["linux/"+a], nil
}

// choosePlatform is the override from the environment if set, else the
// daemon's own platform.
func choosePlatform(osType, arch string) (Platform, error) {
	if v := os.Getenv(EnvPlatform); v != "" {
		p, err := ParsePlatform(v)
		if err != nil {
			return Platform{}, fmt.Errorf("%s: %w", EnvPlatform, err)
		}
		return p, nil
	}
	return DaemonPlatform(osType, arch)
}
