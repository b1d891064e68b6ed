// Package scenarios holds every tcplab scenario, one file each, and the
// registry that lists them in catalogue order.
package scenarios

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tcplab/tcplab/lab/scenario"
)

// registry is the catalogue, in SCENARIOS.md order. Adding a scenario is a
// file beside this one and a line here.
var registry = []*scenario.Scenario{
	modelScale,
	dialRefused,
	backlogFull,
	backlogSlowAccept,
	backlogSynTimeout,
	dialTimeout,
	dialLossy,
	readNoData,
	readPartial,
	readDeadlinePast,
	readEnough,
	readCloseWithData,
	readCloseNoData,
	readTimeout,
	writeSuccess,
	writeBlock,
	writePartialPeerDies,
	writeTimeout,
	concurrentWrite,
	concurrentWriteSplit,
	concurrentRead,
	optNoDelay,
	optLinger,
	optKeepAlive,
	optBuffers,
	optReuseAddr,
	closeSelf,
	closePeer,
	closeHalf,
	proxyBacklog,
	proxyRefused,
	latencyDial,
	latencyBDP,
	latencyNoDelay,
	lossRetransmit,
}

// All returns the scenarios in catalogue order.
func All() []*scenario.Scenario { return registry }

// Lookup finds a scenario by id.
func Lookup(id string) (*scenario.Scenario, error) {
	for _, s := range registry {
		if s.ID == id {
			return s, nil
		}
	}
	ids := make([]string, len(registry))
	for i, s := range registry {
		ids[i] = s.ID
	}
	sort.Strings(ids)
	return nil, fmt.Errorf("unknown scenario %q (known: %s)", id, strings.Join(ids, ", "))
}
