package fakevpp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The host path. fakevpp forwards no pod or tunnel traffic, but a node
// whose uplink VPP took over must keep its connectivity through vpptap0:
// vpp-manager punts what the uplink receives to the host interface
// (ip_punt_redirect rx <uplink> via <tap>), and VPP routes what the host
// sends out of the uplink. fakevpp bridges those two interfaces frame for
// frame while such a redirect exists and both are up: the host (with the
// uplink's MAC and addresses) answers ARP and ND itself where VPP would
// proxy them, which looks the same from the wire.

// FrameIO moves Ethernet frames through a host interface, as VPP's device
// input and output nodes do. Every frame is preceded by a virtio-net header
// (vnetHdrLen bytes), as AF_PACKET with PACKET_VNET_HDR and a tap with
// IFF_VNET_HDR exchange them: checksum and segmentation offloads pass
// through unchanged, so the host's TCP (partial checksums, TSO on veths)
// crosses the bridge intact (the veth fallback sends partial checksums
// and TSO segments; the tap gets no TUNSETOFFLOAD, so the host sends it
// complete frames).
type FrameIO interface {
	// ReadFrame blocks for the next frame the interface receives; it
	// fails once Interrupt was called.
	ReadFrame(b []byte) (int, error)
	WriteFrame(b []byte) error
	Interrupt()
	Close() error
}

// PacketHost is a Host that can move frames: AF_PACKET sockets on the
// host interfaces of VPP's own namespace.
type PacketHost interface {
	OpenAFPacket(hostIfName string) (FrameIO, error)
}

// FrameDevice is a HostDevice (a tap) whose frames VPP reads and writes.
type FrameDevice interface {
	Frames() (FrameIO, error)
}

type bridgeKey struct{ rx, tx uint32 }

// bridge copies frames both ways between two interfaces.
type bridge struct {
	ends  [2]FrameIO
	owned [2]bool // closed with the bridge (AF_PACKET sockets)
	wg    sync.WaitGroup
}

func (b *bridge) run(log *logrus.Entry) {
	for dir := 0; dir < 2; dir++ {
		from, to := b.ends[dir], b.ends[1-dir]
		b.wg.Add(1)
		go func() { // ends at stop (Interrupt) or when the device vanishes
			defer b.wg.Done()
			buf := make([]byte, 65536)
			for {
				n, err := from.ReadFrame(buf)
				if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) {
					return // stopped, or the tap is gone
				}
				if err != nil {
					// A link going down and up (ENETDOWN) is passing.
					log.WithError(err).Debug("host path: read failed")
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if n < vnetHdrLen {
					continue
				}
				// DATA_VALID describes a received frame only.
				buf[0] &^= vnetHdrFDataValid
				if err := to.WriteFrame(buf[:n]); err != nil {
					log.WithError(err).Debug("host path: frame dropped")
				}
			}
		}()
	}
}

func (b *bridge) stop() {
	for _, e := range b.ends {
		e.Interrupt()
	}
	b.wg.Wait()
	for i, e := range b.ends {
		if b.owned[i] {
			_ = e.Close()
		}
	}
}

// wantedBridges are the punt redirects from an AF_PACKET uplink to a tap
// or AF_PACKET host interface, both admin up.
func (st *state) wantedBridges() []bridgeKey {
	var out []bridgeKey
	seen := map[bridgeKey]bool{}
	for k, paths := range st.punts {
		rx := st.ifs[k.rx]
		if k.rx == 0 || rx == nil || rx.kind != kindAFPacket || !rx.adminUp {
			continue
		}
		for _, p := range paths {
			tx := st.ifs[p.SwIfIndex]
			if tx == nil || (tx.kind != kindTap && tx.kind != kindAFPacket) || !tx.adminUp || tx.idx == rx.idx {
				continue
			}
			if key := (bridgeKey{rx.idx, tx.idx}); !seen[key] {
				seen[key] = true
				out = append(out, key)
			}
		}
	}
	sort.Slice(out, func(a, b int) bool {
		return out[a].rx < out[b].rx || (out[a].rx == out[b].rx && out[a].tx < out[b].tx)
	})
	return out
}

// syncBridgesLocked starts and stops host path bridges after a message
// changed the state; called with e.mu held.
func (e *Engine) syncBridgesLocked() {
	ph, ok := e.host.(PacketHost)
	if !ok {
		return
	}
	want := map[bridgeKey]bool{}
	for _, k := range e.st.wantedBridges() {
		want[k] = true
	}
	for k, b := range e.bridges {
		if !want[k] {
			b.stop()
			delete(e.bridges, k)
		}
	}
	for k := range want {
		if _, ok := e.bridges[k]; ok {
			continue
		}
		b, err := e.openBridge(ph, e.st.ifs[k.rx], e.st.ifs[k.tx])
		if err != nil {
			// Retried on the next message; the uplink simply stays dark.
			e.log.WithError(err).Warn("host path not bridged")
			continue
		}
		if e.bridges == nil {
			e.bridges = map[bridgeKey]*bridge{}
		}
		e.bridges[k] = b
		b.run(e.log)
		e.log.WithFields(logrus.Fields{"rx": e.st.ifs[k.rx].name, "tx": e.st.ifs[k.tx].name}).Info("host path bridged")
	}
}

func (e *Engine) openBridge(ph PacketHost, rx, tx *iface) (*bridge, error) {
	b := &bridge{}
	for n, i := range []*iface{rx, tx} {
		var err error
		switch {
		case i.afp != nil:
			b.ends[n], err = ph.OpenAFPacket(i.afp.hostIfName)
			b.owned[n] = true
		case i.tap != nil:
			fd, ok := i.tap.dev.(FrameDevice)
			if !ok {
				err = fmt.Errorf("tap %s moves no frames", i.name)
				break
			}
			b.ends[n], err = fd.Frames()
		}
		if err != nil {
			for m := 0; m < n; m++ {
				if b.owned[m] {
					_ = b.ends[m].Close()
				}
			}
			return nil, fmt.Errorf("open %s: %w", i.name, err)
		}
	}
	return b, nil
}

func (e *Engine) stopBridgesLocked() {
	for k, b := range e.bridges {
		b.stop()
		delete(e.bridges, k)
	}
}

// afPacket is an AF_PACKET socket bound to one interface; frames the
// interface sends are skipped (a packet socket sees both directions).
type afPacket struct {
	f *os.File
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// struct virtio_net_hdr (without num_buffers), and its flags' DATA_VALID.
const (
	vnetHdrLen        = 10
	vnetHdrFDataValid = 2
)

// OpenAFPacket opens a packet socket on a host interface of the calling
// process's namespace (VPP's).
func (LinuxHost) OpenAFPacket(name string) (FrameIO, error) {
	link, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	// Protocol 0 until bound: no frame of another interface is queued.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("PACKET_VNET_HDR on %s: %w", name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: link.Index}); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket to %s: %w", name, err)
	}
	return &afPacket{f: os.NewFile(uintptr(fd), "af_packet:"+name)}, nil
}

func (a *afPacket) ReadFrame(b []byte) (int, error) {
	rc, err := a.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		err = rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), b, unix.MSG_TRUNC)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return 0, err
		}
		if rerr != nil {
			return 0, rerr
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n > len(b) { // cut short: dropped, as a NIC drops what exceeds its buffers
			continue
		}
		return n, nil
	}
}

func (a *afPacket) WriteFrame(b []byte) error {
	_, err := a.f.Write(b)
	return err
}

func (a *afPacket) Interrupt()   { _ = a.f.SetDeadline(time.Now()) }
func (a *afPacket) Close() error { return a.f.Close() }

// tapFrames reads and writes a tap's first queue (created with
// IFF_VNET_HDR, as VPP's virtio taps are). The host path uses one queue;
// what the host sends on others is not bridged.
type tapFrames struct{ f *os.File }

// Frames gives the tap's queue; a deadline left by an earlier bridge is
// cleared.
func (d *linuxDevice) Frames() (FrameIO, error) {
	if len(d.link.Fds) == 0 || d.mac == nil {
		return nil, fmt.Errorf("%s is not an open tap", d.name)
	}
	f := d.link.Fds[0]
	if err := f.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return &tapFrames{f: f}, nil
}

func (t *tapFrames) ReadFrame(b []byte) (int, error) { return t.f.Read(b) }
func (t *tapFrames) WriteFrame(b []byte) error {
	_, err := t.f.Write(b)
	return err
}
func (t *tapFrames) Interrupt()   { _ = t.f.SetDeadline(time.Now()) }
func (t *tapFrames) Close() error { return nil } // the tap owns its fd
