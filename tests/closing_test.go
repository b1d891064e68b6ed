package tests

import (
	"testing"
)

// §5 Closing. The scenarios' verdicts judge each run (run requires every
// check).

func TestCloseSelf(t *testing.T) {
	t.Parallel()
	run(t, "close-self", nil)
}

func TestClosePeer(t *testing.T) {
	t.Parallel()
	run(t, "close-peer", nil)
}

func TestCloseHalf(t *testing.T) {
	t.Parallel()
	run(t, "close-half", nil)
}
