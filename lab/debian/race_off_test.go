//go:build !race

package debian_test

const raceEnabled = false
