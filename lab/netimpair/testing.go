package netimpair

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// AttachForTest is Attach for a test: it fails t when the impairment
// cannot be applied, and registers Close with t.Cleanup (it runs before a
// container cleanup registered earlier, so the sidecar goes first).
func AttachForTest(t testing.TB, ctr testcontainers.Container, opts ...Option) *Handle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := Attach(ctx, ctr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("netimpair: close: %v", err)
		}
	})
	return h
}

// Customizer attaches an impairment as soon as the container starts
// (before its wait strategy runs) and closes it when the container is
// terminated. Use one per container.
type Customizer struct {
	opts []Option
	mu   sync.Mutex
	h    *Handle
}

// WithImpairment is a testcontainers.ContainerCustomizer that puts the
// impairment in force from the container's start:
//
//	imp := netimpair.WithImpairment(netimpair.RTT(40 * time.Millisecond))
//	ctr, err := testcontainers.Run(ctx, image, imp)
func WithImpairment(opts ...Option) *Customizer { return &Customizer{opts: opts} }

// Customize adds the lifecycle hooks.
func (c *Customizer) Customize(req *testcontainers.GenericContainerRequest) error {
	if _, err := newConfig(c.opts); err != nil {
		return err // bad options fail before anything starts
	}
	req.LifecycleHooks = append(req.LifecycleHooks, testcontainers.ContainerLifecycleHooks{
		PostStarts: []testcontainers.ContainerHook{func(ctx context.Context, ctr testcontainers.Container) error {
			h, err := Attach(ctx, ctr, c.opts...)
			if err != nil {
				return err
			}
			c.mu.Lock()
			c.h = h
			c.mu.Unlock()
			return nil
		}},
		PreTerminates: []testcontainers.ContainerHook{func(ctx context.Context, _ testcontainers.Container) error {
			if h := c.Handle(); h != nil {
				return h.Close(ctx)
			}
			return nil
		}},
	})
	return nil
}

// Handle is the attached impairment once the container has started; nil
// before.
func (c *Customizer) Handle() *Handle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.h
}
