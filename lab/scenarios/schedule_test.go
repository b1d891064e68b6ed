package scenarios

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Every scenario has a weight, and a knob-dependent one follows its knob.
func TestWeights(t *testing.T) {
	for _, sc := range All() {
		assert.NotNil(t, sc.Weight, "%s has no Weight", sc.ID)
	}
	for _, tc := range []struct {
		id   string
		set  scenario.Knobs
		want time.Duration
	}{
		{"backlog-syn-timeout", scenario.Knobs{"client.tcp_syn_retries": "1"}, 3*time.Second + startup},
		{"backlog-syn-timeout", scenario.Knobs{"client.tcp_syn_retries": "3"}, 15*time.Second + startup},
		{"dial-timeout", scenario.Knobs{"client.dial_timeout": "2s", "client.dials": "3"}, 2*time.Second + startup}, // side by side
	} {
		sc, err := Lookup(tc.id)
		require.NoError(t, err)
		k, err := sc.Resolve(tc.set)
		require.NoError(t, err)
		assert.Equal(t, tc.want, sc.Expected(k), "%s %v", tc.id, tc.set)
	}
}
