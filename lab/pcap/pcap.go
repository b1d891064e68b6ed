// Package pcap captures the TCP packets of one port in the current network
// namespace with an AF_PACKET socket (pure Go, no libpcap) and writes them
// as a classic .pcap file that Wireshark and tcpdump open. It also reads such
// a file back into a packet timeline for the lab's reports.
package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// SnapLen keeps headers only: the reports need flags and times, and a
// write-block scenario moves megabytes.
const SnapLen = 128

const (
	magic        = 0xa1b2c3d4
	linkEthernet = 1
)

// Writer writes a classic pcap stream.
type Writer struct{ w io.Writer }

// NewWriter writes the file header.
func NewWriter(w io.Writer) (*Writer, error) {
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:], magic)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], SnapLen)
	binary.LittleEndian.PutUint32(h[20:], linkEthernet)
	_, err := w.Write(h)
	return &Writer{w: w}, err
}

// WritePacket writes one frame (truncated to SnapLen) captured at t.
func (pw *Writer) WritePacket(t time.Time, frame []byte) error {
	n := min(len(frame), SnapLen)
	h := make([]byte, 16)
	binary.LittleEndian.PutUint32(h[0:], uint32(t.Unix()))
	binary.LittleEndian.PutUint32(h[4:], uint32(t.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(h[8:], uint32(n))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(frame)))
	if _, err := pw.w.Write(h); err != nil {
		return err
	}
	_, err := pw.w.Write(frame[:n])
	return err
}

// Segment is the TCP view of one Ethernet frame.
type Segment struct {
	Src, Dst         net.IP
	SrcPort, DstPort uint16
	Flags            byte
	Payload          int // TCP payload bytes (from the IP length, not the capture)
}

// ParseTCP decodes an Ethernet/IPv4/TCP frame; ok is false for anything else.
func ParseTCP(frame []byte) (s Segment, ok bool) {
	if len(frame) < 14+20 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
		return s, false
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ip[9] != 6 || len(ip) < ihl+20 {
		return s, false
	}
	total := int(binary.BigEndian.Uint16(ip[2:]))
	tcp := ip[ihl:]
	off := int(tcp[12]>>4) * 4
	s = Segment{
		Src: net.IP(append([]byte(nil), ip[12:16]...)), Dst: net.IP(append([]byte(nil), ip[16:20]...)),
		SrcPort: binary.BigEndian.Uint16(tcp[0:]), DstPort: binary.BigEndian.Uint16(tcp[2:]),
		Flags: tcp[13], Payload: max(total-ihl-off, 0),
	}
	return s, true
}

// FlagString renders TCP flags the way the reports name them: SYN,
// SYN-ACK, RST, RST-ACK, FIN-ACK, ACK, PSH-ACK.
func FlagString(f byte) string {
	var parts []string
	for _, fl := range []struct {
		bit  byte
		name string
	}{{0x02, "SYN"}, {0x01, "FIN"}, {0x04, "RST"}, {0x08, "PSH"}, {0x10, "ACK"}} {
		if f&fl.bit != 0 {
			parts = append(parts, fl.name)
		}
	}
	return strings.Join(parts, "-")
}

// Record is one packet read back from a capture.
type Record struct {
	At      time.Time
	Segment Segment
	Length  int // on the wire
}

// Read parses a capture written by Writer (or any little-endian classic
// Ethernet pcap) and returns its TCP packets.
func Read(r io.Reader) ([]Record, error) {
	h := make([]byte, 24)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	if binary.LittleEndian.Uint32(h) != magic || binary.LittleEndian.Uint32(h[20:]) != linkEthernet {
		return nil, errors.New("pcap: not a little-endian Ethernet capture")
	}
	var out []Record
	ph := make([]byte, 16)
	for {
		if _, err := io.ReadFull(r, ph); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return out, nil // a capture cut short still yields its packets
			}
			return out, err
		}
		incl := binary.LittleEndian.Uint32(ph[8:])
		if incl > 1<<16 {
			return out, fmt.Errorf("pcap: record of %d bytes", incl)
		}
		frame := make([]byte, incl)
		if _, err := io.ReadFull(r, frame); err != nil {
			return out, nil
		}
		at := time.Unix(int64(binary.LittleEndian.Uint32(ph[0:])), int64(binary.LittleEndian.Uint32(ph[4:]))*1000)
		if s, ok := ParseTCP(frame); ok {
			out = append(out, Record{At: at, Segment: s, Length: int(binary.LittleEndian.Uint32(ph[12:]))})
		}
	}
}

// ReadFile is Read for a file.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}
