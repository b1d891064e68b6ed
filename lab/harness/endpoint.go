package harness

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// dockerEndpoint picks the daemon the way the docker CLI does, so that the
// lab talks to the daemon `docker ps` shows: $DOCKER_HOST, else the
// context named by $DOCKER_CONTEXT or by currentContext in the CLI's
// config.json (Colima, Docker Desktop and Podman install contexts), else
// the client library's default (the local socket). It returns the host to
// use, "" for the default, and where it came from.
func dockerEndpoint() (host, from string, err error) {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h, "DOCKER_HOST", checkScheme(h, "DOCKER_HOST")
	}
	name := os.Getenv("DOCKER_CONTEXT")
	cfgDir := os.Getenv("DOCKER_CONFIG")
	if cfgDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "", nil
		}
		cfgDir = filepath.Join(home, ".docker")
	}
	if name == "" {
		b, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
		if err != nil {
			return "", "", nil // no CLI config: the default socket
		}
		var cfg struct {
			CurrentContext string `json:"currentContext"`
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return "", "", fmt.Errorf("%s: %w", filepath.Join(cfgDir, "config.json"), err)
		}
		name = cfg.CurrentContext
	}
	if name == "" || name == "default" {
		return "", "", nil
	}
	// The CLI stores a context's metadata under the SHA-256 of its name.
	meta := filepath.Join(cfgDir, "contexts", "meta", fmt.Sprintf("%x", sha256.Sum256([]byte(name))), "meta.json")
	b, err := os.ReadFile(meta)
	if err != nil {
		return "", "", fmt.Errorf("docker context %q: %w", name, err)
	}
	var m struct {
		Endpoints map[string]struct {
			Host string `json:"Host"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return "", "", fmt.Errorf("docker context %q: %s: %w", name, meta, err)
	}
	h := m.Endpoints["docker"].Host
	if h == "" {
		return "", "", fmt.Errorf("docker context %q has no docker endpoint", name)
	}
	from = "docker context " + name
	return h, from, checkScheme(h, from)
}

// checkScheme refuses what the Go client cannot dial itself, with the way
// round it.
func checkScheme(host, from string) error {
	scheme, rest, ok := strings.Cut(host, "://")
	switch {
	case !ok:
		return fmt.Errorf("%s=%q: want unix://, tcp:// or npipe://", from, host)
	case scheme == "ssh":
		return fmt.Errorf("%s=%s: the lab's Docker client cannot dial ssh:// itself; forward the socket (ssh -nNT -L /tmp/tcplab-docker.sock:/var/run/docker.sock %s) and set DOCKER_HOST=unix:///tmp/tcplab-docker.sock", from, host, rest)
	case scheme == "unix", scheme == "tcp", scheme == "npipe", scheme == "http", scheme == "https":
		return nil
	}
	return fmt.Errorf("%s=%q: unknown scheme %q", from, host, scheme)
}

// useEndpoint makes the context's endpoint the one both Docker clients in
// this process (moby's client.FromEnv and testcontainers) use.
func useEndpoint() (string, error) {
	host, from, err := dockerEndpoint()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	if host != "" && from != "DOCKER_HOST" {
		os.Setenv("DOCKER_HOST", host)
	}
	if host == "" {
		return "the local Docker socket", nil
	}
	return host, nil
}
