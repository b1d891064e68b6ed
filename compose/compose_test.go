package compose_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/compose"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// The committed docker-compose.yml must be what the registry generates, or
// `docker compose up` would run other scenarios than the tests.
func TestComposeFileIsCurrent(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, compose.Write(&b, scenarios.All()))
	have, err := os.ReadFile("../docker-compose.yml")
	require.NoError(t, err)
	require.Equal(t, b.String(), string(have),
		"docker-compose.yml is stale: run `go run ./lab/cmd/tcplab compose > docker-compose.yml`")
}

// Every case of every scenario becomes a client service, run in order.
func TestEveryCaseHasAClient(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, compose.Write(&b, scenarios.All()))
	for _, r := range compose.Runs(scenarios.All()) {
		require.Contains(t, b.String(), "  "+r.Name+"-client:\n")
		require.Contains(t, b.String(), `"/results/`+r.Result+`"`)
		if r.Scenario.Sidecar {
			require.True(t, strings.Contains(b.String(), `network_mode: "service:`+r.Name+`-server"`))
		}
	}
}

// The README's scenario table lists every registered scenario.
func TestReadmeListsEveryScenario(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, sc := range scenarios.All() {
		require.Contains(t, string(readme), "| "+sc.ID+" |", "README.md's scenario table lacks %s", sc.ID)
	}
}
