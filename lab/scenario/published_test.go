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
// ways, and a failed host check fails the result.
func TestAmend(t *testing.T) {
	for _, tc := range []struct {
		name   string
		obs    string
		err    string // the driver's error
		hostOK bool
		wantOK bool
		want   string // observations after, "" when untouched
		fails  bool   // Amend itself errs
		failed bool   // the result had already failed for another reason
	}{
		{name: "adds the host's part", obs: `{"count":3,"host":null}`, hostOK: true, wantOK: true,
			want: `{"count":3,"host":{"n":7,"err":{"kind":"EOF"}}}`},
		{name: "a failed host check fails the result", obs: `{"count":3,"host":null}`, hostOK: false, wantOK: false,
			want: `{"count":3,"host":{"n":7,"err":{"kind":"EOF"}}}`},
		{name: "a failed driver is left alone", obs: `{}`, err: "driver failed", hostOK: true, wantOK: false},
		{name: "observations of another type", obs: `{"count":3}`, hostOK: true, fails: true, wantOK: true},
		{name: "a result failed for another reason stays failed", obs: `{"count":3,"host":null}`, hostOK: true, wantOK: false,
			want: `{"count":3,"host":{"n":7,"err":{"kind":"EOF"}}}`, failed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &scenario.Result{Observations: json.RawMessage(tc.obs), Error: tc.err,
				Checks: []scenario.Check{{Name: "client", OK: true}}, OK: tc.err == "" && !tc.failed}
			err := scenario.Amend(r, func(o *hostObs, expect func(string, bool, string, ...any)) {
				o.Host = &innerObs{N: 7, Err: scenario.ErrInfo{Kind: "EOF"}}
				expect("host", tc.hostOK, "")
			})
			if tc.fails {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantOK, r.OK)
			if tc.want != "" {
				assert.JSONEq(t, tc.want, string(r.Observations))
				assert.Len(t, r.Checks, 2)
			} else {
				assert.JSONEq(t, tc.obs, string(r.Observations))
				assert.Len(t, r.Checks, 1)
			}
		})
	}
}
