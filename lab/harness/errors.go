package harness

import (
	"errors"
	"fmt"
	"time"
)

// ErrCouldNotRun marks a run the lab could not carry out: Docker failed
// or did not answer in time, or the run never got a place. It is not a
// verdict on TCP: `tcplab run` exits 3 for it, and 1 only for an
// expectation that did not hold.
var ErrCouldNotRun = errors.New("lab could not run")

// LabError is a step of a run that Docker, not TCP, failed: which step,
// how long it took, and why.
type LabError struct {
	Step string        // e.g. "creating the lab network", "starting server-agent"
	Took time.Duration // from the step's start to its failure
	Err  error
}

func (e *LabError) Error() string {
	return fmt.Sprintf("%s: %s failed after %v: %v", ErrCouldNotRun, e.Step, e.Took.Round(time.Millisecond), e.Err)
}

// Unwrap lets errors.Is find ErrCouldNotRun and the cause alike.
func (e *LabError) Unwrap() []error { return []error{ErrCouldNotRun, e.Err} }

// step runs f and, if it fails, returns its error as a LabError of step.
func step(name string, f func() error) error {
	t0 := time.Now()
	if err := f(); err != nil {
		var le *LabError
		if errors.As(err, &le) {
			return err
		}
		return &LabError{Step: name, Took: time.Since(t0), Err: err}
	}
	return nil
}
