package scenarios

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Every scenario declares its observation type, and the type's JSON form
// reads back strictly (a field that cannot be checked for presence, or a
// tag that collides, would fail here rather than in a run).
func TestEveryScenarioDeclaresObservations(t *testing.T) {
	for _, sc := range All() {
		t.Run(sc.ID, func(t *testing.T) {
			require.NotNil(t, sc.Obs, "scenario %s has no Obs", sc.ID)
			v := sc.Obs()
			b, err := json.Marshal(v)
			require.NoError(t, err)
			got, err := sc.DecodeObs(&scenario.Result{Scenario: sc.ID, Observations: b})
			require.NoError(t, err)
			assert.Equal(t, v, got)
		})
	}
}

// An unknown knob's error lists the scenario's knobs, each once, though a
// scenario may give a common knob (impair.rtt) a default of its own.
func TestKnobNamesOnce(t *testing.T) {
	for _, sc := range All() {
		seen := map[string]bool{}
		for _, n := range sc.KnobNames() {
			assert.False(t, seen[n], "%s lists %s twice", sc.ID, n)
			seen[n] = true
		}
	}
}
