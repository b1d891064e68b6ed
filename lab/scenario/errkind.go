package scenario

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// ErrInfo is how an error is reported: the kind found with errors.Is on the
// real error value, its text, and whether it says Timeout().
type ErrInfo struct {
	Kind    string `json:"kind"`
	Text    string `json:"text,omitempty"`
	Timeout bool   `json:"timeout,omitempty"`
}

var kinds = []struct {
	name string
	err  error
}{
	{"ECONNREFUSED", syscall.ECONNREFUSED},
	{"ECONNRESET", syscall.ECONNRESET},
	{"EPIPE", syscall.EPIPE},
	{"ETIMEDOUT", syscall.ETIMEDOUT},
	{"EHOSTUNREACH", syscall.EHOSTUNREACH},
	{"ENETUNREACH", syscall.ENETUNREACH},
	{"ErrDeadlineExceeded", os.ErrDeadlineExceeded},
	{"context.DeadlineExceeded", context.DeadlineExceeded},
	{"ErrClosed", net.ErrClosed},
	{"EOF", io.EOF},
	{"ErrUnexpectedEOF", io.ErrUnexpectedEOF},
}

// Classify names err by the first sentinel it wraps ("none" for nil).
func Classify(err error) ErrInfo {
	if err == nil {
		return ErrInfo{Kind: "none"}
	}
	info := ErrInfo{Kind: "other", Text: err.Error()}
	var ne net.Error
	if errors.As(err, &ne) {
		info.Timeout = ne.Timeout()
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			info.Kind = k.name
			break
		}
	}
	return info
}
