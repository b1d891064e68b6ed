package scenario_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
)

type innerObs struct {
	N   int              `json:"n"`
	Err scenario.ErrInfo `json:"err"`
}

type sampleObs struct {
	TookMS []float64         `json:"took_ms"`
	Count  int               `json:"count"`
	Inner  innerObs          `json:"inner"`
	Rows   []innerObs        `json:"rows"`
	Hist   map[string]int    `json:"hist"`
	Piece  int               `json:"piece,omitempty"`
	Opt    *innerObs         `json:"opt"`
	Extra  map[string]string `json:"extra,omitempty"`
}

// A typed read is strict: what json.Unmarshal would leave at zero is an
// error, so a renamed or dropped observation cannot read as a measured 0.
func TestObservationsStrict(t *testing.T) {
	const ok = `{"took_ms":[1.5],"count":3,"inner":{"n":1,"err":{"kind":"none"}},` +
		`"rows":[{"n":2,"err":{"kind":"EOF"}}],"hist":{"0s":4},"opt":null}`
	for _, tc := range []struct {
		name, obs, err string
	}{
		{"complete", ok, ""},
		{"omitempty may be absent", ok, ""},
		{"nil slice", `{"took_ms":null,"count":3,"inner":{"n":1,"err":{"kind":"none"}},"rows":null,"hist":null,"opt":null}`, ""},
		{"missing top-level field", `{"took_ms":[1.5],"inner":{"n":1,"err":{"kind":"none"}},"rows":[],"hist":{},"opt":null}`, "observations.count is missing"},
		{"missing nested field", `{"took_ms":[],"count":3,"inner":{"err":{"kind":"none"}},"rows":[],"hist":{},"opt":null}`, "observations.inner.n is missing"},
		{"missing field in a list element", `{"took_ms":[],"count":3,"inner":{"n":1,"err":{"kind":"none"}},"rows":[{"n":2}],"hist":{},"opt":null}`, "observations.rows[0].err is missing"},
		{"missing pointer field", `{"took_ms":[],"count":3,"inner":{"n":1,"err":{"kind":"none"}},"rows":[],"hist":{}}`, "observations.opt is missing"},
		{"null number", `{"took_ms":[],"count":null,"inner":{"n":1,"err":{"kind":"none"}},"rows":[],"hist":{},"opt":null}`, "observations.count is null"},
		{"unknown field", `{"took_ms":[],"count":3,"counts":3,"inner":{"n":1,"err":{"kind":"none"}},"rows":[],"hist":{},"opt":null}`, `unknown field "counts"`},
		{"wrong type", `{"took_ms":1.5,"count":3,"inner":{"n":1,"err":{"kind":"none"}},"rows":[],"hist":{},"opt":null}`, "cannot unmarshal number"},
		{"no observations", ``, "has no observations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &scenario.Result{Scenario: "x", Observations: []byte(tc.obs)}
			got, err := scenario.Observations[sampleObs](r)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 3, got.Count)
		})
	}
}

func TestDecodeObsUsesTheDeclaredType(t *testing.T) {
	sc := &scenario.Scenario{ID: "x", Obs: scenario.ObsOf[innerObs]()}
	v, err := sc.DecodeObs(&scenario.Result{Observations: []byte(`{"n":7,"err":{"kind":"EOF"}}`)})
	require.NoError(t, err)
	assert.Equal(t, &innerObs{N: 7, Err: scenario.ErrInfo{Kind: "EOF"}}, v)
	_, err = (&scenario.Scenario{ID: "y"}).DecodeObs(&scenario.Result{Observations: []byte(`{}`)})
	assert.ErrorContains(t, err, "declares no observation type")
}

func TestFigures(t *testing.T) {
	o := sampleObs{TookMS: []float64{1}, Count: 3, Inner: innerObs{N: 2}, Hist: map[string]int{"0s": 4}}
	assert.Equal(t, map[string]float64{"count": 3, "inner.n": 2, "hist.0s": 4, "piece": 0}, scenario.Figures(&o))
}
