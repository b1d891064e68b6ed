package harness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
	"github.com/tcplab/tcplab/lab/topology"
)

// A run that waits its turn behind others for longer than its own budget
// still runs and passes: its budget counts from the pacer's admission, so
// a busy runner queues runs instead of failing them.
func TestQueuedRunKeepsItsBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := New(ctx)
	if errors.Is(err, ErrNoDocker) {
		t.Skip(err)
	}
	require.NoError(t, err)
	sc, err := scenarios.Lookup("dial-refused")
	require.NoError(t, err)
	plan, err := l.Plan(sc, nil)
	require.NoError(t, err)
	// A lab of one place whose runs may work 20 s; the place is held 25 s.
	const budget, held = 20 * time.Second, 25 * time.Second
	q := &Lab{docker: l.docker, Image: l.Image, Kernel: l.Kernel, Linear: l.Linear, Platform: l.Platform,
		AgentImage: l.AgentImage, session: l.session, sess: l.sess, pace: newPacer(4, 1),
		setup: budget - plan.ByRole(topology.Client).Wait.Timeout}
	q.pace.gate = newMachineGate(SessionDir()) // beside other processes' measurements, like any lab
	require.Equal(t, budget, q.budget(plan))
	hold, err := q.pace.begin(ctx, scenario.Neutral, 0)
	require.NoError(t, err)
	go func() { time.Sleep(held); hold.end() }()
	t0 := time.Now()
	res, err := q.Run(ctx, "dial-refused", nil)
	require.NoError(t, err)
	require.True(t, res.OK, "%q", res.Failed())
	require.Greater(t, time.Since(t0), budget, "the run waited longer than its own budget")
}
