package tests

import "testing"

// §3 Goroutine safety: the scenarios' verdicts judge the stream the reader
// got (run requires every check).

func TestConcurrentWrite(t *testing.T) {
	t.Parallel()
	run(t, "concurrent-write", nil)
}

func TestConcurrentWriteSplit(t *testing.T) {
	t.Parallel()
	run(t, "concurrent-write-split", nil)
}

func TestConcurrentRead(t *testing.T) {
	t.Parallel()
	run(t, "concurrent-read", nil)
}
