//go:build race

package debian_test

const raceEnabled = true
