package impair

import (
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tcpEstablished is TCP_ESTABLISHED in the kernel's socket states.
const tcpEstablished = 1

// ConnRTTs lists the round-trip times of this network namespace's
// established IPv4 TCP connections that q selects, read with sock_diag
// (INET_DIAG_INFO), as `ss -ti` does: no traffic of its own. IPv4 on the
// wire includes an AF_INET6 socket's v4-mapped connections (Go's
// net.Listen("tcp", ":port") is one).
func ConnRTTs(q RTTQuery) ([]ConnRTT, error) {
	var socks []*netlink.InetDiagTCPInfoResp
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		s, err := netlink.SocketDiagTCPInfo(fam)
		if err != nil && len(s) == 0 && fam == unix.AF_INET {
			return nil, err
		}
		socks = append(socks, s...) // no IPv6 in the namespace is no error
	}
	out := []ConnRTT{}
	for _, s := range socks {
		m, ti := s.InetDiagMsg, s.TCPInfo
		if m == nil || ti == nil || m.State != tcpEstablished {
			continue
		}
		src, ok1 := netip.AddrFromSlice(m.ID.Source)
		dst, ok2 := netip.AddrFromSlice(m.ID.Destination)
		src, dst = src.Unmap(), dst.Unmap()
		if !ok1 || !ok2 || !src.Is4() || !dst.Is4() || dst.IsLoopback() || src == dst {
			continue
		}
		if len(q.Ports) > 0 && !slices.Contains(q.Ports, int(m.ID.SourcePort)) && !slices.Contains(q.Ports, int(m.ID.DestinationPort)) {
			continue
		}
		out = append(out, ConnRTT{
			Local:  netip.AddrPortFrom(src, m.ID.SourcePort).String(),
			Remote: netip.AddrPortFrom(dst, m.ID.DestinationPort).String(),
			SRTTUS: ti.Rtt, RTTVarUS: ti.Rttvar, MinRTTUS: ti.Min_rtt, Segments: ti.Segs_in,
		})
	}
	return out, nil
}
