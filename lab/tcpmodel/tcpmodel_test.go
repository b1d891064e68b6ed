package tcpmodel_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/tcpmodel"
)

func s(secs ...float64) []time.Duration {
	out := make([]time.Duration, len(secs))
	for i, v := range secs {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out
}

// The schedule must reproduce what this machine's kernel did: blocked dials
// failed at 3/7/15/31 s with linear timeouts off and 3/7/19/35 s with 4.
func TestSynSchedule(t *testing.T) {
	for _, tc := range []struct {
		retries, linear int
		sends           []time.Duration
		giveUp          time.Duration
	}{
		{1, 0, s(0, 1), 3 * time.Second},
		{2, 0, s(0, 1, 3), 7 * time.Second},
		{3, 0, s(0, 1, 3, 7), 15 * time.Second},
		{4, 0, s(0, 1, 3, 7, 15), 31 * time.Second},
		{1, 4, s(0, 1, 2), 3 * time.Second},
		{2, 4, s(0, 1, 2, 3, 4, 5), 7 * time.Second},
		{3, 4, s(0, 1, 2, 3, 4, 5, 7, 11), 19 * time.Second},
		{4, 4, s(0, 1, 2, 3, 4, 5, 7, 11, 19), 35 * time.Second},
	} {
		t.Run(fmt.Sprintf("R=%d,linear=%d", tc.retries, tc.linear), func(t *testing.T) {
			sends, giveUp := tcpmodel.SynSchedule(tc.retries, tc.linear)
			assert.Equal(t, tc.sends, sends)
			assert.Equal(t, tc.giveUp, giveUp)
		})
	}
}

func TestOnSynSlot(t *testing.T) {
	slots := s(0, 1, 3, 7, 15)
	for _, tc := range []struct {
		d    time.Duration
		slot time.Duration
		ok   bool
	}{
		{20 * time.Millisecond, 0, true},
		{1040 * time.Millisecond, time.Second, true},
		{7309 * time.Millisecond, 7 * time.Second, true},   // timer wheel: late, within 1/8
		{15502 * time.Millisecond, 15 * time.Second, true}, // measured here
		{2 * time.Second, time.Second, false},              // between slots
		{995 * time.Millisecond, time.Second, true},        // one jiffy early at most
		{980 * time.Millisecond, 0, false},                 // early: after slot 0's window, before slot 1's
	} {
		slot, ok := tcpmodel.OnSynSlot(tc.d, slots)
		assert.Equal(t, tc.slot, slot, "%v", tc.d)
		assert.Equal(t, tc.ok, ok, "%v", tc.d)
	}
}

// Early is always wrong; late is bounded by the fraction plus the slack.
func TestOnTime(t *testing.T) {
	const want = 2 * time.Second
	for _, tc := range []struct {
		got time.Duration
		ok  bool
	}{
		{want, true},
		{want - time.Millisecond, false},
		{want + want/8 + 250*time.Millisecond, true},
		{want + want/8 + 251*time.Millisecond, false},
		{2 * want, false},
	} {
		assert.Equal(t, tc.ok, tcpmodel.OnTime(tc.got, want, 1.0/8, 250*time.Millisecond), "%v", tc.got)
	}
}
