package pcap_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/pcap"
)

// frame builds an Ethernet/IPv4/TCP frame with the given ports and flags.
func frame(sport, dport uint16, flags byte, payload int) []byte {
	b := make([]byte, 14+20+20+payload)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(40+payload))
	ip[9] = 6
	copy(ip[12:], net.IPv4(10, 0, 0, 1).To4())
	copy(ip[16:], net.IPv4(10, 0, 0, 2).To4())
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12] = 5 << 4
	tcp[13] = flags
	return b
}

func TestWriteRead(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf)
	require.NoError(t, err)
	t0 := time.Unix(1700000000, 0)
	require.NoError(t, w.WritePacket(t0, frame(40000, 8080, 0x02, 0)))
	require.NoError(t, w.WritePacket(t0.Add(time.Second), frame(8080, 40000, 0x12, 0)))
	require.NoError(t, w.WritePacket(t0.Add(3*time.Second), frame(40000, 8080, 0x18, 500)))
	recs, err := pcap.Read(&buf)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	assert.Equal(t, "SYN", pcap.FlagString(recs[0].Segment.Flags))
	assert.Equal(t, "SYN-ACK", pcap.FlagString(recs[1].Segment.Flags))
	assert.Equal(t, "PSH-ACK", pcap.FlagString(recs[2].Segment.Flags))
	assert.Equal(t, time.Second, recs[1].At.Sub(recs[0].At))
	assert.Equal(t, 500, recs[2].Segment.Payload, "payload from the IP length, though the capture is cut at SnapLen")
	assert.Equal(t, 554, recs[2].Length)
	assert.Equal(t, uint16(8080), recs[0].Segment.DstPort)
	assert.Equal(t, "10.0.0.1", recs[0].Segment.Src.String())
}

func TestReadRejectsOtherFormats(t *testing.T) {
	_, err := pcap.Read(bytes.NewReader(make([]byte, 24)))
	assert.Error(t, err)
}
