package scenario_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
)

type hostObs struct {
	Count int       `json:"count"`
	Host  *innerObs `json:"host"` // filled by a host probe; null until then
}

// Amend is how a host probe's observations reach a result: typed both
// ways, and only the observations change (the scenario's verdicts judge
// them afterwards, Scenario.Judge).
func TestAmend(t *testing.T) {
	for _, tc := range []struct {
		name  string
		obs   string
		err   string // the driver's error
		want  string // observations after, "" when untouched
		fails bool   // Amend itself errs
	}{
		{name: "adds the host's part", obs: `{"count":3,"host":null}`,
			want: `{"count":3,"host":{"n":7,"err":{"kind":"EOF"}}}`},
		{name: "a failed driver is left alone", obs: `{}`, err: "driver failed"},
		{name: "observations of another type", obs: `{"count":3}`, fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &scenario.Result{Observations: json.RawMessage(tc.obs), Error: tc.err,
				Checks: []scenario.Check{{Name: "client", OK: true}}, OK: tc.err == ""}
			ok := r.OK
			err := scenario.Amend(r, func(o *hostObs) {
				o.Host = &innerObs{N: 7, Err: scenario.ErrInfo{Kind: "EOF"}}
			})
			if tc.fails {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, ok, r.OK, "Amend judges nothing")
			assert.Len(t, r.Checks, 1, "Amend adds no check")
			if tc.want != "" {
				assert.JSONEq(t, tc.want, string(r.Observations))
			} else {
				assert.JSONEq(t, tc.obs, string(r.Observations))
			}
		})
	}
}
