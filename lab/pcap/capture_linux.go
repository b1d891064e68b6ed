package pcap

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Capture writes every TCP packet to or from port on interface ifname to
// path until ctx ends. It needs CAP_NET_RAW. ready is closed once the
// socket is bound, so no packet after that is missed.
func Capture(ctx context.Context, ifname string, port uint16, path string, ready chan<- struct{}) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(proto))
	if err != nil {
		return fmt.Errorf("pcap: AF_PACKET socket (needs CAP_NET_RAW): %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		return fmt.Errorf("pcap: bind %s: %w", ifname, err)
	}
	// Each packet's time is the kernel's, taken as it passed the tap: a
	// capture read late (its process descheduled on a busy runner) would
	// otherwise stamp it late, and a first SYN stamped 13 ms late made the
	// 1 s SYN timer look early.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("pcap: SO_TIMESTAMPNS: %w", err)
	}
	// Wake up every 100 ms to notice ctx.
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o1777); err != nil { // scratch images have no /tmp
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	defer bw.Flush()
	pw, err := NewWriter(bw)
	if err != nil {
		return err
	}
	close(ready)
	buf, oob := make([]byte, 1<<16), make([]byte, 256)
	lastFlush := time.Now()
	for ctx.Err() == nil {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		now := time.Now()
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err == unix.ENETDOWN || err == unix.ENXIO {
				return nil // the namespace's interface went away: the run is over
			}
			return err
		}
		s, ok := ParseTCP(buf[:n])
		if !ok || (s.SrcPort != port && s.DstPort != port) {
			continue
		}
		at, ok := kernelStamp(oob[:oobn])
		if !ok {
			at = now // an emulator (qemu-user) may not pass the stamp on
		}
		if err := pw.WritePacket(at, buf[:n]); err != nil {
			return err
		}
		if now.Sub(lastFlush) > time.Second {
			bw.Flush()
			lastFlush = now
		}
	}
	return nil
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// kernelStamp is the SCM_TIMESTAMPNS a packet came with.
func kernelStamp(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Unix()), true
		}
	}
	return time.Time{}, false
}
