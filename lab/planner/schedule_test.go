package planner

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The scheduler's promises: never more than N at once, an exclusive job
// alone, exclusive jobs first and the rest longest first.
func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		name     string
		parallel int
		weights  []time.Duration // ms
		excl     []bool
		first    []string // the labels of the first jobs started, in order
	}{
		{"longest first", 1, []time.Duration{1, 5, 3, 2}, []bool{false, false, false, false}, []string{"j1", "j2", "j3", "j0"}},
		{"exclusive first and alone", 3, []time.Duration{1, 5, 3, 2}, []bool{false, false, true, false}, []string{"j2"}},
		{"two exclusives, then the rest", 4, []time.Duration{2, 1, 3, 4}, []bool{false, true, false, true}, []string{"j3", "j1"}},
		{"at most 2 at once", 2, []time.Duration{2, 1, 3, 4, 2, 2}, make([]bool, 6), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var jobs []Job
			for i, w := range tc.weights {
				jobs = append(jobs, Job{Row: i, Label: fmt.Sprintf("j%d", i), Weight: w * time.Millisecond, Exclusive: tc.excl[i]})
			}
			var mu sync.Mutex
			var started []string
			running, maxRunning := 0, 0
			exclusiveRunning := false
			Schedule(jobs, tc.parallel, func(j Job) {
				mu.Lock()
				running++
				maxRunning = max(maxRunning, running)
				started = append(started, j.Label)
				assert.False(t, exclusiveRunning, "%s started beside an exclusive job", j.Label)
				if j.Exclusive {
					assert.Equal(t, 1, running, "exclusive %s started beside others", j.Label)
					exclusiveRunning = true
				}
				mu.Unlock()
				time.Sleep(j.Weight * 4)
				mu.Lock()
				running--
				if j.Exclusive {
					exclusiveRunning = false
				}
				mu.Unlock()
			})
			assert.Len(t, started, len(jobs))
			assert.LessOrEqual(t, maxRunning, tc.parallel)
			if len(tc.first) > 0 {
				assert.Equal(t, tc.first, started[:len(tc.first)])
			} else {
				assert.Equal(t, tc.parallel, maxRunning, "the pool is used")
			}
		})
	}
}
