package impair

import (
	"net/netip"
	"reflect"
	"testing"
)

// A Set that asks for the same LossOut keeps its rules (and their
// counters): the matches of equal specs are equal, and of different ones
// differ.
func TestOutMatchesCompare(t *testing.T) {
	peer := netip.MustParseAddr("172.18.0.3")
	base := Spec{Port: 8080, AlsoPorts: []int{9090}, Peers: []netip.Addr{peer}}
	again := Spec{Port: 8080, AlsoPorts: []int{9090}, Peers: []netip.Addr{netip.MustParseAddr("172.18.0.3")}}
	if !reflect.DeepEqual(outMatches(base), outMatches(again)) {
		t.Fatal("one spec described two ways")
	}
	for name, s := range map[string]Spec{
		"port":    {Port: 8081, AlsoPorts: []int{9090}, Peers: []netip.Addr{peer}},
		"peer":    {Port: 8080, AlsoPorts: []int{9090}, Peers: []netip.Addr{netip.MustParseAddr("172.18.0.4")}},
		"all TCP": {AllTCP: true, Peers: []netip.Addr{peer}},
	} {
		if reflect.DeepEqual(outMatches(s), outMatches(base)) {
			t.Errorf("%s: a different spec described as the same", name)
		}
	}
}
