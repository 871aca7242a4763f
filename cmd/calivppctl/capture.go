package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// captureOpts are the flags trace, pcap and dispatch share.
type captureOpts struct {
	count    int
	timeout  time.Duration
	iface    string
	srcIP    string
	dstIP    string
	srcPort  int
	dstPort  int
	protocol string
	output   string
}

func (o *captureOpts) register(fs *flag.FlagSet, defaultOutput string) {
	fs.IntVar(&o.count, "count", 1000, "packets to capture")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to capture (Ctrl-C stops earlier)")
	fs.StringVar(&o.iface, "interface", "phy", "phy, tap, tun, af_packet, af_xdp, dpdk, virtio, avf, or a VPP interface name")
	fs.StringVar(&o.srcIP, "srcip", "", "only packets from this address")
	fs.StringVar(&o.dstIP, "dstip", "", "only packets to this address")
	fs.IntVar(&o.srcPort, "srcport", 0, "only packets from this port")
	fs.IntVar(&o.dstPort, "dstport", 0, "only packets to this port")
	fs.StringVar(&o.protocol, "protocol", "", "tcp|udp|icmp")
	fs.StringVar(&o.output, "output", defaultOutput, "where to write the result")
}

// inputNode maps --interface to the graph node packets enter VPP by.
func inputNode(iface string) string {
	switch iface {
	case "phy", "dpdk":
		return "dpdk-input"
	case "af_packet":
		return "af-packet-input"
	case "af_xdp":
		return "af_xdp-input"
	case "avf":
		return "avf-input"
	case "tap", "tun", "virtio":
		return "virtio-input"
	}
	return ""
}

// filters turns the match flags into VPP classifier filter commands
// ("classify filter <trace|pcap> mask ... match ...").
func (o *captureOpts) filters(target string) ([]string, error) {
	var mask, match []string
	if o.srcIP != "" || o.dstIP != "" {
		for _, a := range []struct{ flag, field, val string }{{"srcip", "src", o.srcIP}, {"dstip", "dst", o.dstIP}} {
			if a.val == "" {
				continue
			}
			ip, err := netip.ParseAddr(a.val)
			if err != nil {
				return nil, fmt.Errorf("--%s %q is not an IP address", a.flag, a.val)
			}
			fam := "ip4"
			if ip.Is6() {
				fam = "ip6"
			}
			mask = append(mask, "l3 "+fam+" "+a.field)
			match = append(match, "l3 "+fam+" "+a.field+" "+ip.String())
		}
	}
	switch o.protocol {
	case "":
	case "tcp", "udp", "icmp":
		mask = append(mask, "l3 ip4 proto")
		match = append(match, "l3 ip4 proto "+map[string]string{"tcp": "6", "udp": "17", "icmp": "1"}[o.protocol])
	default:
		return nil, fmt.Errorf("--protocol %q (want tcp|udp|icmp)", o.protocol)
	}
	for _, p := range []struct {
		flag, field string
		val         int
	}{{"srcport", "src_port", o.srcPort}, {"dstport", "dst_port", o.dstPort}} {
		if p.val == 0 {
			continue
		}
		if p.val < 0 || p.val > 65535 {
			return nil, fmt.Errorf("--%s %d is not a port", p.flag, p.val)
		}
		mask = append(mask, "l4 "+p.field)
		match = append(match, fmt.Sprintf("l4 %s %d", p.field, p.val))
	}
	if len(mask) == 0 {
		return nil, nil
	}
	return []string{fmt.Sprintf("classify filter %s mask %s match %s", target, strings.Join(mask, " "), strings.Join(match, " "))}, nil
}

// wait lasts until the timeout or Ctrl-C (ctx).
func (o *captureOpts) wait(ctx context.Context) {
	fmt.Fprintf(os.Stderr, "capturing for %s (Ctrl-C to stop)...\n", o.timeout)
	select {
	case <-ctx.Done():
	case <-time.After(o.timeout):
	}
}

func traceCommand() *command {
	o := &captureOpts{}
	return &command{
		name: "trace", usage: "[flags]",
		help:  "Trace packets through VPP's graph and write the trace as text.",
		flags: func(fs *flag.FlagSet) { o.register(fs, "trace.txt") },
		run: func(ctx context.Context, g *globals, _ *flag.FlagSet) error {
			node := inputNode(o.iface)
			if node == "" {
				return fmt.Errorf("--interface %q: traces start at an input node (phy, tap, tun, af_packet, af_xdp, dpdk, virtio, avf)", o.iface)
			}
			filters, err := o.filters("trace")
			if err != nil {
				return err
			}
			n, err := nodeFor(ctx, g)
			if err != nil {
				return err
			}
			defer n.Close()
			cctx := context.WithoutCancel(ctx)
			for _, c := range append(append([]string{"clear trace"}, filters...), fmt.Sprintf("trace add %s %d%s", node, o.count, filterSuffix(filters))) {
				if _, err := n.CLI(cctx, c); err != nil {
					return fmt.Errorf("%s: %w", c, err)
				}
			}
			o.wait(ctx)
			out, err := n.CLI(cctx, fmt.Sprintf("show trace max %d", o.count))
			if err != nil {
				return err
			}
			if _, err := n.CLI(cctx, "clear trace"); err != nil {
				return err
			}
			if err := os.WriteFile(o.output, []byte(out), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "trace written to %s\n", o.output)
			return nil
		},
	}
}

func filterSuffix(filters []string) string {
	if len(filters) > 0 {
		return " filter"
	}
	return ""
}

// pcapHeader is an empty pcap file (Ethernet, 64KiB snaplen): what the
// capture writes when VPP saw no packet (VPP then writes no file).
func pcapHeader() []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(b[4:], 2)
	binary.LittleEndian.PutUint16(b[6:], 4)
	binary.LittleEndian.PutUint32(b[16:], 65535)
	binary.LittleEndian.PutUint32(b[20:], 1)
	return b
}

// pcapCapture runs a pcap or dispatch capture and copies VPP's file back.
func pcapCapture(ctx context.Context, g *globals, o *captureOpts, start func(file string, filters []string) []string, stop, filterTarget string) error {
	filters, err := o.filters(filterTarget)
	if err != nil {
		return err
	}
	n, err := nodeFor(ctx, g)
	if err != nil {
		return err
	}
	defer n.Close()
	file := fmt.Sprintf("calivppctl-%d.pcap", time.Now().UnixNano())
	cctx := context.WithoutCancel(ctx)
	for _, c := range append(filters, start(file, filters)...) {
		if out, err := n.CLI(cctx, c); err != nil {
			if strings.Contains(out+err.Error(), "already enabled") {
				return errors.New("a capture is already running on this node")
			}
			return fmt.Errorf("%s: %w", c, err)
		}
	}
	o.wait(ctx)
	data := pcapHeader()
	if _, err := n.CLI(cctx, stop); err != nil {
		if !strings.Contains(err.Error(), "No packets captured") {
			return fmt.Errorf("%s: %w", stop, err)
		}
		fmt.Fprintln(os.Stderr, "no packets captured")
	} else if data, err = n.ReadVPPFile(cctx, "/tmp/"+file); err != nil {
		return fmt.Errorf("copy /tmp/%s from VPP: %w", file, err)
	}
	if err := os.WriteFile(o.output, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "capture written to %s\n", o.output)
	return nil
}

func pcapCommand() *command {
	o := &captureOpts{}
	return &command{
		name: "pcap", usage: "[flags]",
		help:  "Capture packets received, sent and dropped by VPP into a pcap file (tcpdump, Wireshark).",
		flags: func(fs *flag.FlagSet) { o.register(fs, "capture.pcap") },
		run: func(ctx context.Context, g *globals, _ *flag.FlagSet) error {
			intfc := "any"
			if inputNode(o.iface) == "" && o.iface != "" {
				intfc = o.iface // a VPP interface name
			}
			return pcapCapture(ctx, g, o, func(file string, filters []string) []string {
				return []string{fmt.Sprintf("pcap trace rx tx drop max %d intfc %s file %s%s", o.count, intfc, file, filterSuffix(filters))}
			}, "pcap trace off", "pcap")
		},
	}
}

func dispatchCommand() *command {
	o := &captureOpts{}
	return &command{
		name: "dispatch", usage: "[flags]",
		help:  "Record VPP's dispatch trace (every graph node a packet vector visits) into a pcap file.",
		flags: func(fs *flag.FlagSet) { o.register(fs, "dispatch.pcap") },
		run: func(ctx context.Context, g *globals, _ *flag.FlagSet) error {
			node := inputNode(o.iface)
			if node == "" {
				return fmt.Errorf("--interface %q: dispatch traces start at an input node", o.iface)
			}
			return pcapCapture(ctx, g, o, func(file string, _ []string) []string {
				return []string{fmt.Sprintf("pcap dispatch trace on max %d file %s buffer-trace %s %d", o.count, file, node, o.count)}
			}, "pcap dispatch trace off", "trace")
		},
	}
}
