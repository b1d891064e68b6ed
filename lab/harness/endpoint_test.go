package harness

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeContext lays out a docker CLI config dir with one context, as
// `docker context create NAME --docker host=HOST` does.
func writeContext(t *testing.T, dir, name, host string, current bool) {
	t.Helper()
	meta := filepath.Join(dir, "contexts", "meta", fmt.Sprintf("%x", sha256.Sum256([]byte(name))))
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	m := fmt.Sprintf(`{"Name":%q,"Metadata":{},"Endpoints":{"docker":{"Host":%q,"SkipTLSVerify":false}}}`, name, host)
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	if current {
		cfg := fmt.Sprintf(`{"auths":{},"currentContext":%q}`, name)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDockerEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name            string
		dockerHost      string
		dockerContext   string
		contexts        map[string]string // name → host; "colima" is current
		wantHost        string
		wantFrom        string
		wantErrContains string
	}{
		{name: "nothing set: the default socket"},
		{name: "DOCKER_HOST tcp", dockerHost: "tcp://127.0.0.1:2375", wantHost: "tcp://127.0.0.1:2375", wantFrom: "DOCKER_HOST"},
		{name: "DOCKER_HOST wins over the current context", dockerHost: "unix:///run/user/1000/docker.sock",
			contexts: map[string]string{"colima": "unix:///home/u/.colima/default/docker.sock"},
			wantHost: "unix:///run/user/1000/docker.sock", wantFrom: "DOCKER_HOST"},
		{name: "current context", contexts: map[string]string{"colima": "unix:///home/u/.colima/default/docker.sock"},
			wantHost: "unix:///home/u/.colima/default/docker.sock", wantFrom: "docker context colima"},
		{name: "DOCKER_CONTEXT picks another", dockerContext: "podman",
			contexts: map[string]string{"colima": "unix:///c.sock", "podman": "unix:///run/podman/podman.sock"},
			wantHost: "unix:///run/podman/podman.sock", wantFrom: "docker context podman"},
		{name: "DOCKER_CONTEXT=default", dockerContext: "default", contexts: map[string]string{"colima": "unix:///c.sock"}},
		{name: "unknown context", dockerContext: "nope", wantErrContains: `docker context "nope"`},
		{name: "ssh DOCKER_HOST", dockerHost: "ssh://me@builder", wantHost: "ssh://me@builder", wantFrom: "DOCKER_HOST",
			wantErrContains: "forward the socket"},
		{name: "ssh context", contexts: map[string]string{"colima": "ssh://me@builder"}, wantHost: "ssh://me@builder",
			wantFrom: "docker context colima", wantErrContains: "cannot dial ssh://"},
		{name: "no scheme", dockerHost: "127.0.0.1:2375", wantHost: "127.0.0.1:2375", wantFrom: "DOCKER_HOST", wantErrContains: "want unix://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DOCKER_CONFIG", dir)
			t.Setenv("DOCKER_HOST", tc.dockerHost)
			t.Setenv("DOCKER_CONTEXT", tc.dockerContext)
			for name, host := range tc.contexts {
				writeContext(t, dir, name, host, name == "colima")
			}
			host, from, err := dockerEndpoint()
			if tc.wantErrContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrContains) {
					t.Fatalf("err = %v; want one containing %q", err, tc.wantErrContains)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if host != tc.wantHost || from != tc.wantFrom {
				t.Errorf("got %q from %q; want %q from %q", host, from, tc.wantHost, tc.wantFrom)
			}
		})
	}
}
