//go:build linux

package proc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
)

// Connector is a subscription to the kernel's process events.
type Connector struct {
	f *os.File
}

// OpenConnector subscribes to fork, exec and exit events. It needs root
// and a kernel built with CONFIG_PROC_EVENTS.
func OpenConnector() (*Connector, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("proc connector: %w", err)
	}
	// a fork storm must not overflow the socket: ask for 8 MiB
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc, Pid: uint32(os.Getpid())}); err != nil {
		// another socket of this process may hold the port id: let the
		// kernel choose
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("proc connector bind: %w", err)
		}
	}
	// nlmsghdr + cn_msg + the listen operation
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], nlmsgDone)
	binary.NativeEndian.PutUint32(msg[12:], uint32(os.Getpid()))
	binary.NativeEndian.PutUint32(msg[16:], cnIdxProc)
	binary.NativeEndian.PutUint32(msg[20:], cnValProc)
	binary.NativeEndian.PutUint16(msg[32:], 4)
	binary.NativeEndian.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector listen: %w", err)
	}
	return &Connector{f: os.NewFile(uintptr(fd), "proc-connector")}, nil
}

// ErrLost reports that the kernel dropped events (the socket overflowed):
// the table must fall back on /proc for a while.
var ErrLost = errors.New("proc connector: events lost")

// Read waits for events and passes them to fn.
func (c *Connector) Read(buf []byte, fn func(Change)) error {
	n, err := c.f.Read(buf)
	if err != nil {
		if errors.Is(err, unix.ENOBUFS) {
			return ErrLost
		}
		return err
	}
	return ParseConnector(buf[:n], fn)
}

// Close ends the subscription.
func (c *Connector) Close() error { return c.f.Close() }
