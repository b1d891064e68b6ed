package egress

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// Cut deletes every route through a gateway (the default route among them)
// from this network namespace, IPv4 and IPv6; on-link routes stay, so the
// lab's own subnet is still reached directly. It needs CAP_NET_ADMIN.
func Cut() error {
	var errs []error
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := netlink.RouteList(nil, fam)
		if err != nil {
			return fmt.Errorf("egress: listing routes: %w", err)
		}
		for _, r := range routes {
			if r.Gw == nil && r.Dst != nil {
				continue
			}
			if err := netlink.RouteDel(&r); err != nil {
				errs = append(errs, fmt.Errorf("egress: deleting route %v: %w (does the agent have CAP_NET_ADMIN?)", r, err))
			}
		}
	}
	return errors.Join(errs...)
}
