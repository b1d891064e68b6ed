// Package runner holds the container-side main loops of the one tcplab
// binary: a role's server (a scenario's behaviour and its control
// channel), its impairment agent (the namespace's route cut, rules and
// capture) and its client (the driver, run against the server, and the
// Result it prints). With them live what only those loops use: the RTT
// probe and its toxiproxy comparison for the run's impair.* network, the
// client's -gate, and a role's peak RSS. lab/scenario declares what a
// scenario is; this package runs one.
package runner
