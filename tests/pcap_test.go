package tests

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/pcap"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// The capture taken in the server's namespace shows the blocked dial's SYN
// retransmissions at the times the SYN schedule predicts: the schedule is
// seen, not inferred.
func TestPcapShowsSynRetransmissions(t *testing.T) {
	t.Parallel()
	if lab == nil {
		t.Skip(noLab)
	}
	const retries = 2
	path := filepath.Join(t.TempDir(), "syn.pcap")
	res, err := lab.Run(t.Context(), "backlog-syn-timeout",
		scenario.Knobs{"client.tcp_syn_retries": fmt.Sprint(retries)}, harness.Capture(path))
	require.NoError(t, err)
	require.True(t, res.OK, "%v", res.Failed())
	recs, err := pcap.ReadFile(path)
	require.NoError(t, err)

	// The blocked dial is the connection whose SYN was sent more than once.
	syns := map[uint16][]time.Time{}
	for _, r := range recs {
		if r.Segment.DstPort == scenario.Port && pcap.FlagString(r.Segment.Flags) == "SYN" {
			syns[r.Segment.SrcPort] = append(syns[r.Segment.SrcPort], r.At)
		}
	}
	var blocked []time.Time
	for _, ts := range syns {
		if len(ts) > 1 {
			require.Nil(t, blocked, "one blocked dial expected: %v", syns)
			blocked = ts
		}
	}
	// The schedule the client kernel ran with, whatever it is: the
	// driver read tcp_syn_retries and tcp_syn_linear_timeouts (0 where the
	// kernel lacks them, which is also its behaviour) in its container.
	o := obs[scenarios.BacklogSynTimeoutObs](t, res)
	require.Equal(t, retries, o.TCPSynRetries)
	want, _ := tcpmodel.SynSchedule(o.TCPSynRetries, o.TCPSynLinearTimeouts)
	require.Len(t, blocked, len(want), "SYNs of the blocked dial")
	for i, at := range blocked {
		got := at.Sub(blocked[0])
		slot, ok := tcpmodel.OnSynSlot(got, want)
		assert.True(t, ok && slot == want[i], "SYN %d at %v, want %v", i, got, want[i])
	}
}
