package netimpair

import (
	"context"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/harness"
)

// Only a tagged release of this module has a published image: a
// checkout, a pseudo-version and a replaced module build their own.
func TestReleaseRef(t *testing.T) {
	const mod = "github.com/tcplab/tcplab"
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"a checkout", debug.BuildInfo{Main: debug.Module{Path: mod, Version: "(devel)"}}, ""},
		{"installed at a release", debug.BuildInfo{Main: debug.Module{Path: mod, Version: "v0.4.1"}}, PublishedRepo + ":v0.4.1"},
		{"a dependency at a release", debug.BuildInfo{Main: debug.Module{Path: "example.com/app"}, Deps: []*debug.Module{{Path: mod, Version: "v1.2.3"}}}, PublishedRepo + ":v1.2.3"},
		{"a dependency at a pseudo-version", debug.BuildInfo{Deps: []*debug.Module{{Path: mod, Version: "v0.0.0-20261205000000-0123456789ab"}}}, ""},
		{"a prerelease", debug.BuildInfo{Deps: []*debug.Module{{Path: mod, Version: "v1.3.0-rc.1"}}}, ""},
		{"a replaced dependency", debug.BuildInfo{Deps: []*debug.Module{{Path: mod, Version: "v1.2.3", Replace: &debug.Module{Path: "../tcplab"}}}}, ""},
		{"not a user of tcplab", debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v1.0.0"}}, ""},
	} {
		assert.Equal(t, tc.want, releaseRef(&tc.bi), tc.name)
	}
}

// The image a program asks for is pulled or the Attach fails; a
// release's published image that cannot be pulled (no registry: here a
// refusing loopback port stands for one) gives way to the image built
// from source, saying so. Nothing leaves this machine.
func TestSidecarImage(t *testing.T) {
	if testing.Short() {
		t.Skip("asks Docker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cli, err := client.New(client.FromEnv)
	require.NoError(t, err)
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		t.Skipf("Docker is not reachable: %v", err)
	}
	arch := daemonArchOf(t, ctx, cli)
	built, err := harness.Image(ctx, arch)
	require.NoError(t, err)
	const nowhere = "127.0.0.1:1/tcplab/tcplab:v9.9.9"

	t.Run("a published image that cannot be pulled gives way to the built one", func(t *testing.T) {
		said := captureStderr(t, func() {
			ref, err := sidecarImage(ctx, cli, "", nowhere, arch)
			require.NoError(t, err)
			assert.Equal(t, built, ref)
		})
		assert.Contains(t, said, "pulling the sidecar's image "+nowhere)
		assert.Contains(t, said, "building the sidecar's image from the module's source instead")
	})
	t.Run("an image asked for that cannot be pulled is an error", func(t *testing.T) {
		_, err := sidecarImage(ctx, cli, nowhere, "", arch)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "pulling the sidecar's image "+nowhere)
		t.Setenv(EnvSidecarImage, nowhere)
		_, err = sidecarImage(ctx, cli, "", PublishedRepo+":v1.0.0", arch)
		require.Error(t, err, "the environment's image, not the published one")
		assert.Contains(t, err.Error(), nowhere)
	})
	t.Run("an image the daemon has is not pulled", func(t *testing.T) {
		ref, err := sidecarImage(ctx, cli, built, nowhere, arch)
		require.NoError(t, err)
		assert.Equal(t, built, ref)
	})
}

func daemonArchOf(t *testing.T, ctx context.Context, cli *client.Client) string {
	info, err := cli.Info(ctx, client.InfoOptions{})
	require.NoError(t, err)
	p, err := harness.DaemonPlatform(info.Info.OSType, info.Info.Architecture)
	require.NoError(t, err)
	return p.Arch
}

// captureStderr returns what f wrote to os.Stderr.
func captureStderr(t *testing.T, f func()) string {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	defer func() { os.Stderr = old }()
	f()
	w.Close()
	os.Stderr = old
	return strings.TrimSpace(<-done)
}
