package report

import (
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Schema names the version of Report's JSON form.
const Schema = "tcplab.report/v1"

// Report is everything one `tcplab run` produced: rows of repeated runs.
type Report struct {
	Schema   string    `json:"schema"`
	Kernel   string    `json:"kernel"`
	Platform string    `json:"platform,omitempty"` // os/arch the lab's binary ran as (the daemon's, or TCPLAB_PLATFORM's)
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Rows     []*Row    `json:"rows"`
}

// Row is one scenario with one set of knob overrides (a case of the
// scenario, or one point of a --vary sweep), repeated Count times.
type Row struct {
	Scenario string             `json:"scenario"`
	Title    string             `json:"title"`
	Section  string             `json:"section"`
	Article  string             `json:"article"`            // the article's 2015 figure and why it differs
	Set      scenario.Knobs     `json:"set"`                // the overrides of this row (--set, case, --vary)
	Vary     scenario.Knobs     `json:"vary"`               // the swept knobs' values of this row, if any
	Results  []*scenario.Result `json:"results"`            // one per repetition
	Figures  []Figure           `json:"figures"`            // numeric observations over the repetitions
	Verdict  string             `json:"verdict"`            // PASS, FAIL, LATE (Late) or NOT RUN (NotRun)
	Pcaps    []string           `json:"pcaps,omitempty"`    // capture files, relative to the report
	Timeline []Packet           `json:"timeline,omitempty"` // packets of the first capture (set-up scenarios)
	// ObservationErrors: results whose observations did not read as the
	// scenario's type (they fail the row).
	ObservationErrors []string `json:"observation_errors,omitempty"`
	// Late says why a LATE row is no verdict on TCP (the runner was late:
	// scenario.Result.RunnerLate), and Again is the command that measures
	// it again.
	Late  string `json:"late,omitempty"`
	Again string `json:"again,omitempty"`
}

// Figure is one numeric observation over the repetitions.
type Figure struct {
	Name            string    `json:"name"`
	Values          []float64 `json:"values"`
	Min             float64   `json:"min"`
	Median          float64   `json:"median"`
	Max             float64   `json:"max"`
	Reproducibility string    `json:"reproducibility"` // identical, within tolerance, not reproducible
	Spread          float64   `json:"spread"`          // (max−min)/|median|, 0 when identical
}

// Packet is one TCP packet seen in the server's network namespace.
type Packet struct {
	AtMS  float64 `json:"at_ms"` // since the first packet of the capture
	Dir   string  `json:"dir"`   // "in" (to the server) or "out"
	Flags string  `json:"flags"` // e.g. "SYN", "SYN-ACK", "RST", "ACK"
	Src   string  `json:"src"`
	Dst   string  `json:"dst"`
	Len   int     `json:"len"`
}
