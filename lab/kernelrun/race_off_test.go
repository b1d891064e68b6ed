//go:build !race

package kernelrun_test

const raceEnabled = false
