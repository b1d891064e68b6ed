//go:build !linux

package impair

import (
	"net"
	"time"
)

// Agent is Linux-only; here every method says so.
type Agent struct{ Table string }

func (a *Agent) Init() error                     { return ErrUnsupported }
func (a *Agent) Apply(Spec) (Applied, error)     { return Applied{}, ErrUnsupported }
func (a *Agent) Update(Spec) (Applied, error)    { return Applied{}, ErrUnsupported }
func (a *Agent) Clear() error                    { return ErrUnsupported }
func (a *Agent) ClearDrops() error               { return ErrUnsupported }
func (a *Agent) Crash(string) error              { return ErrUnsupported }
func (a *Agent) Counters() (Counters, error)     { return Counters{}, ErrUnsupported }
func NetemAvailable() bool                       { return false }
func QueueAvailable() bool                       { return false }
func TCPInfoRTT(net.Conn) (time.Duration, error) { return 0, ErrUnsupported }
func TCPInfoRetrans(net.Conn) (uint32, error)    { return 0, ErrUnsupported }

func ConnRTTs(RTTQuery) ([]ConnRTT, error) { return nil, ErrUnsupported }
