//go:build !container

package main

import (
	"strings"
	"testing"

	"github.com/tcplab/tcplab/lab/netimpair"
)

func TestPrintImpairClean(t *testing.T) {
	var b strings.Builder
	printImpairClean(&b, &netimpair.CleanReport{
		Removed: []netimpair.Sidecar{
			{ID: "0123456789abcdef", Target: "fedcba9876543210", TargetName: "redis-1", Owner: "dead", Restored: true},
			{ID: "1111111111111111", Target: "2222222222222222", Owner: "dead"},
		},
		Kept: []netimpair.Sidecar{{ID: "3333333333333333", Target: "4444", TargetName: "web", Owner: "live"}},
	})
	want := `removed impairment sidecar 0123456789ab of redis-1 (owner dead): target restored
removed impairment sidecar 111111111111 of 222222222222 (gone) (owner dead): its target is gone
kept impairment sidecar 333333333333 of web (owner live)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
