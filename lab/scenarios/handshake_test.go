package scenarios_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenarios"
)

// TestLossRetransmitHandshake pins loss-retransmit's handshake model at
// +20 ms: one RTT, or 1, 2 or 3 s more as the SYN and SYN-ACK timers say,
// each with the retransmission counts that path leaves. The 2 s slot is a
// SYN-ACK lost once more after the client's 1 s SYN, which re-arms the
// server's timer for 1 s (a compose run measured 2.035 s, client 1,
// server 2).
func TestLossRetransmitHandshake(t *testing.T) {
	sc, err := scenarios.Lookup("loss-retransmit")
	require.NoError(t, err)
	base := readResult(t, filepath.Join(recorded, "loss-retransmit-1.json"))
	for _, tc := range []struct {
		connectMS      float64
		client, server int64
		ok             bool
	}{
		{20.6, 0, 0, true},
		{19.0, 0, 0, false},   // early: faster than the RTT
		{41.2, 0, 0, false},   // twice the RTT
		{20.6, 1, 0, false},   // a SYN resent but no second's wait
		{1021, 1, 0, true},    // the SYN lost once
		{1021, 1, 2, true},    // the SYN-ACK lost once: the server resends on its timer and on the SYN
		{1021, 2, 0, false},   // two SYNs resent in one second
		{1300, 1, 1, false},   // between the slots
		{2035.2, 1, 2, true},  // the compose run
		{2035.2, 2, 2, false}, // a 2 s handshake with the client's 3 s SYN sent
		{3030, 2, 3, true},
		{3030, 1, 2, false},
		{4070, 2, 4, false}, // the 2 s slot doubled: no slot at 4 s
	} {
		r := *base
		o, err := sc.DecodeObs(&r)
		require.NoError(t, err)
		obs := o.(*scenarios.LossRetransmitObs)
		obs.ConnectMS = tc.connectMS
		obs.Client.TcpExt["TCPSynRetrans"], obs.Server.TcpExt["TCPSynRetrans"] = tc.client, tc.server
		b, err := json.Marshal(obs)
		require.NoError(t, err)
		r.Observations = b
		require.NoError(t, sc.Judge(&r))
		got := true
		for _, c := range r.Checks[2:4] {
			got = got && c.OK
		}
		assert.Equal(t, tc.ok, got, "connect %v ms, SYNs resent %d/%d: %v", tc.connectMS, tc.client, tc.server, r.Checks[2:4])
	}
}
