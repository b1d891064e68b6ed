package planner

import (
	"sort"
	"sync"
	"time"
)

// Job is one repetition of one planned row, as Schedule runs it.
type Job struct {
	Row, Rep int // indexes into the caller's plan and its repetitions
	Label    string
	Weight   time.Duration
	// Exclusive: nothing else runs beside the job (`tcplab run --kernel`
	// runs rows whose Load is not Neutral so on its VMs).
	Exclusive bool
}

// rank is the job's Rank: exclusive jobs first, then the longest.
func (j Job) rank() Rank { return Rank{First: j.Exclusive, Weight: j.Weight} }

// Order puts the exclusive jobs first, one after another, then the rest
// longest first (Rank), so the longest overlaps with everything shorter
// and the tail is short runs.
func Order(jobs []Job) []Job {
	out := append([]Job(nil), jobs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].rank().Before(out[j].rank()) })
	return out
}

// Schedule runs jobs in Order with at most parallel at once; an exclusive
// job waits until nothing else runs and nothing starts beside it. A job
// never starts before the ones ahead of it in order, so none starves.
func Schedule(jobs []Job, parallel int, run func(Job)) {
	var (
		mu        sync.Mutex
		cond      = sync.NewCond(&mu)
		running   int
		exclusive bool
		wg        sync.WaitGroup
	)
	for _, j := range Order(jobs) {
		mu.Lock()
		for exclusive || running >= parallel || (j.Exclusive && running > 0) {
			cond.Wait()
		}
		running++
		exclusive = j.Exclusive
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(j)
			mu.Lock()
			running--
			if j.Exclusive {
				exclusive = false
			}
			cond.Broadcast()
			mu.Unlock()
		}()
	}
	wg.Wait()
}
