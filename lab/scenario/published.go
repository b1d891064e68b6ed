package scenario

import (
	"context"
	"encoding/json"
	"fmt"
)

// PublishedPort is the server port a published scenario exposes through
// Docker's own port publishing (bound to 127.0.0.1 on the host). It is not
// the port under test: the host's dials must find a queue the client's
// dials did not fill.
const PublishedPort = 8081

// LabelPublished marks the one extra network a published scenario's server
// joins: the only lab network with a way to the host, holding only the
// server.
const LabelPublished = "tcplab.published"

// HostProbe is the host side of a published scenario: it dials addr
// (127.0.0.1:<host port>, Docker's publishing of PublishedPort) from the
// host process while the server is up and before the client starts, and
// returns how to fold what it saw into the client's result once that
// exists. The scenario keeps its own types on both sides: the harness only
// carries the closure. A probe only observes: once its part is in the
// observations, the harness judges the result again (Scenario.Judge), and
// the scenario's verdicts judge the host's part with the rest.
type HostProbe func(ctx context.Context, addr string, k Knobs) (Merge, error)

// Merge folds a host probe's observations into a result.
type Merge func(r *Result) error

// Amend decodes r's observations strictly as T, lets f change them, and
// stores them back. A result whose driver failed has no observations to
// amend and is left as it is.
func Amend[T any](r *Result, f func(o *T)) error {
	if r.Error != "" {
		return nil
	}
	o, err := Observations[T](r)
	if err != nil {
		return err
	}
	f(&o)
	b, err := json.Marshal(&o)
	if err != nil {
		return fmt.Errorf("amending observations: %w", err)
	}
	r.Observations = b
	return nil
}
