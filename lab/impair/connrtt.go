package impair

// RTTQuery selects the connections ConnRTTs reports: established IPv4 TCP
// connections with a peer off this host (loopback excluded), to or from
// Ports when any are given.
type RTTQuery struct {
	Ports []int `json:"ports,omitempty"`
}

// ConnRTT is one connection's round-trip time as its own TCP stack
// measured it (TCP_INFO through sock_diag), in microseconds.
type ConnRTT struct {
	Local    string `json:"local"`
	Remote   string `json:"remote"`
	SRTTUS   uint32 `json:"srtt_us"`    // tcpi_rtt: the smoothed RTT
	RTTVarUS uint32 `json:"rttvar_us"`  // tcpi_rttvar
	MinRTTUS uint32 `json:"min_rtt_us"` // tcpi_min_rtt: the least sample (a 5-minute window)
	Segments uint32 `json:"segs_in"`    // tcpi_segs_in
}
