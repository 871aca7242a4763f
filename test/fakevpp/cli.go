package fakevpp

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/cnat"
	"go.fd.io/govpp/binapi/fib_types"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/binapi/vlib"
	"go.fd.io/govpp/binapi/vpe"
)

// buildDate is what show version reports; fixed so outputs are stable.
const buildDate = "2025-10-29T10:00:00"

func (e *Engine) registerVPE() {
	// show_version (src/vpp/api/api.c): program "vpe".
	on(e, func(_ *Client, _ *vpe.ShowVersion) []api.Message {
		return one(&vpe.ShowVersionReply{Program: "vpe", Version: e.opts.Version, BuildDate: buildDate, BuildDirectory: "/fakevpp"})
	}, &vpe.ShowVersionReply{})
	// cli_inband (src/vlibmemory/vlib_api.c): the output, and retval -1
	// with the error text for an unknown command.
	on(e, func(_ *Client, req *vlib.CliInband) []api.Message {
		out, ok := e.cli(req.Cmd)
		if !ok {
			return one(&vlib.CliInbandReply{Retval: -1, Reply: out})
		}
		return one(&vlib.CliInbandReply{Reply: out})
	}, &vlib.CliInbandReply{})
}

// RunCLI runs a CLI command (for startup.exec), under the engine lock.
func (e *Engine) RunCLI(cmd string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out, ok := e.cli(cmd)
	e.flushEvents()
	e.syncBridgesLocked()
	return out, ok
}

// cli answers the commands calivppctl and vpp-manager use, in VPP's
// formats (src/vnet/interface_format.c, fib/ip4_fib.c, ...).
func (e *Engine) cli(cmd string) (string, bool) {
	f := strings.Fields(cmd)
	has := func(words ...string) bool {
		if len(f) < len(words) {
			return false
		}
		for k, w := range words {
			// VPP accepts unambiguous prefixes ("sh int").
			if !strings.HasPrefix(w, f[k]) {
				return false
			}
		}
		return true
	}
	switch {
	case len(f) == 0:
		return "", true
	case has("show", "version"):
		return fmt.Sprintf("vpp v%s built by fakevpp on localhost at %s\n", e.opts.Version, buildDate), true
	case has("show", "interface", "address") || has("show", "interface", "addr"):
		return e.showInterfaceAddr(), true
	case has("show", "interface"):
		return e.showInterfaces(), true
	case has("show", "ip", "fib"):
		return e.showFib(false), true
	case has("show", "ip6", "fib"):
		return e.showFib(true), true
	case has("show", "cnat", "translation"):
		return e.showCnat(), true
	case has("show", "acl-plugin", "acl"):
		return e.showACLs(), true
	case has("show", "tap"):
		return e.showTaps(), true
	case has("show", "ipip", "tunnel"):
		return e.showIPIP(), true
	case has("show", "vxlan", "tunnel"):
		return e.showVXLAN(), true
	case has("set", "interface", "state") && len(f) == 5:
		return e.cliSetState(f[3], f[4])
	case has("set", "interface", "ip", "address") && len(f) == 6:
		return e.cliSetAddress(f[4], f[5])
	case has("trace", "add") && len(f) >= 4:
		e.st.tracing = true
		return "", true
	case has("show", "trace"):
		return "------------------- Start of thread 0 vpp_main -------------------\nNo packets in trace buffer\n", true
	case has("clear", "trace"):
		e.st.tracing = false
		return "", true
	case has("pcap", "dispatch", "trace"):
		return e.pcapCommand(&e.st.dispatchOn, contains4(f, "off"), "dispatch trace")
	case has("pcap", "trace"):
		return e.pcapCommand(&e.st.pcapOn, contains4(f, "off"), "pcap")
	case has("classify", "filter"):
		return "", true
	case has("show", "errors"):
		return "   Count                  Node                              Reason               Severity\n", true
	case has("show", "runtime"):
		return "Thread 0 vpp_main (lcore 0)\nTime 1.0, 10 sec internal node vector rate 0.00 loops/sec 0.00\n", true
	case has("show", "hardware-interfaces"):
		return e.showInterfaces(), true
	case has("clear"):
		return "", true
	}
	return fmt.Sprintf("%s: unknown input `%s'\n", f[0], strings.Join(f[1:], " ")), false
}

func (e *Engine) cliSetState(name, state string) (string, bool) {
	i, ok := e.st.ifaceByName(name)
	if !ok {
		return fmt.Sprintf("set interface state: unknown interface `%s'\n", name), false
	}
	up := state == "up"
	if !up && state != "down" {
		return fmt.Sprintf("set interface state: unknown input `%s'\n", state), false
	}
	flags := interface_types.IfStatusFlags(0)
	if up {
		flags = interface_types.IF_STATUS_API_FLAG_ADMIN_UP
	}
	e.handlers[mustID(e, &interfaces.SwInterfaceSetFlags{})](nil, &interfaces.SwInterfaceSetFlags{SwIfIndex: interface_types.InterfaceIndex(i.idx), Flags: flags})
	return "", true
}

func (e *Engine) cliSetAddress(name, prefix string) (string, bool) {
	i, ok := e.st.ifaceByName(name)
	if !ok {
		return fmt.Sprintf("set interface ip address: unknown interface `%s'\n", name), false
	}
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		return fmt.Sprintf("set interface ip address: unknown input `%s'\n", prefix), false
	}
	rv := e.st.addDelAddress(&interfaces.SwInterfaceAddDelAddress{SwIfIndex: interface_types.InterfaceIndex(i.idx), IsAdd: true,
		Prefix: ip_types.AddressWithPrefix(toPrefix(p))})
	if rv != 0 {
		return fmt.Sprintf("set interface ip address: failed (%d)\n", rv), false
	}
	return "", true
}

func mustID(e *Engine, m api.Message) uint16 {
	id, ok := e.table.id(m)
	if !ok {
		panic("fakevpp: unregistered " + m.GetMessageName())
	}
	return id
}

func stateWord(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func (e *Engine) ifacesByName() []*iface {
	out := e.st.sortedIfaces()
	sort.Slice(out, func(a, b int) bool { return out[a].name < out[b].name })
	return out
}

func (e *Engine) showInterfaces() string {
	var b strings.Builder
	// Header "%=32s%=5s%=10s%=21s%=16s%=16s", rows "%-32s%=5d%=10s%=21s".
	fmt.Fprintf(&b, "%s%s%s%s%s%s\n", center("Name", 32), center("Idx", 5), center("State", 10),
		center("MTU (L3/IP4/IP6/MPLS)", 21), center("Counter", 16), center("Count", 16))
	for _, i := range e.ifacesByName() {
		mtu := fmt.Sprintf("%d/%d/%d/%d", i.mtu[0], i.mtu[1], i.mtu[2], i.mtu[3])
		fmt.Fprintf(&b, "%-32s%s%s%s\n", i.name, center(fmt.Sprint(i.idx), 5), center(stateWord(i.adminUp), 10), center(mtu, 21))
	}
	return b.String()
}

func (e *Engine) showInterfaceAddr() string {
	var b strings.Builder
	short := map[bool]string{true: "up", false: "dn"}
	for _, i := range e.ifacesByName() {
		fmt.Fprintf(&b, "%s (%s):\n", i.name, short[i.adminUp])
		addrs := i.addrs
		if i.unnumberedOf != invalidIndex {
			donor := e.st.ifs[i.unnumberedOf]
			fmt.Fprintf(&b, "  unnumbered, use %s\n", donor.name)
			addrs = donor.addrs
		}
		for f, list := range addrs {
			for _, a := range list {
				fmt.Fprintf(&b, "  L3 %s", a)
				if i.table[f] != 0 {
					fmt.Fprintf(&b, " ip%d table-id %d", map[int]int{0: 4, 1: 6}[f], i.table[f])
				}
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

func (e *Engine) showFib(is6 bool) string {
	var b strings.Builder
	var keys []fibKey
	for k := range e.st.fibs {
		if k.is6 == is6 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(a, c int) bool { return keys[a].id < keys[c].id })
	for n, k := range keys {
		fmt.Fprintf(&b, "%s, fib_index:%d, flow hash:[src dst sport dport proto flowlabel ] epoch:0 flags:none locks:[default-route:1, ]\n", e.st.fibs[k].name, n)
		entries := e.st.fibEntries(k)
		for _, p := range sortedEntries(entries) {
			fmt.Fprintf(&b, "%s\n  unicast-ip%d-chain\n", p, map[bool]int{false: 4, true: 6}[is6])
			for _, path := range entries[p].paths {
				fmt.Fprintf(&b, "    %s\n", e.formatPath(path))
			}
		}
	}
	return b.String()
}

// formatPath renders a path the way show ip fib's forwarding lines read.
func (e *Engine) formatPath(p fib_types.FibPath) string {
	switch p.Type {
	case fib_types.FIB_API_PATH_TYPE_DROP:
		return "[@0]: dpo-drop"
	case fib_types.FIB_API_PATH_TYPE_LOCAL:
		return fmt.Sprintf("[@0]: dpo-receive: %s on %s", nhString(p), e.ifName(p.SwIfIndex))
	}
	var zero ip_types.AddressUnion
	switch {
	case p.SwIfIndex == invalidIndex && p.Nh.Address == zero:
		return fmt.Sprintf("[@0]: dst-address,unicast lookup in table %d", p.TableID)
	case p.Nh.Address == zero:
		return fmt.Sprintf("[@0]: glean: %s", e.ifName(p.SwIfIndex))
	case p.SwIfIndex == invalidIndex:
		return fmt.Sprintf("[@0]: recursive via %s weight %d", nhString(p), p.Weight)
	}
	return fmt.Sprintf("[@0]: via %s %s weight %d", nhString(p), e.ifName(p.SwIfIndex), p.Weight)
}

func nhString(p fib_types.FibPath) string {
	if p.Proto == fib_types.FIB_API_PATH_NH_PROTO_IP6 {
		return netip.AddrFrom16(p.Nh.Address.GetIP6()).String()
	}
	return netip.AddrFrom4(p.Nh.Address.GetIP4()).String()
}

func (e *Engine) ifName(idx uint32) string {
	if i, ok := e.st.ifs[idx]; ok {
		return i.name
	}
	return fmt.Sprintf("sw_if_index %d (deleted)", idx)
}

func (e *Engine) showCnat() string {
	var b strings.Builder
	c := &e.st.cnat
	for id := uint32(0); int(id) < len(c.ids.used); id++ {
		t, ok := c.translations[id]
		if !ok {
			continue
		}
		lb := "default"
		if t.lbType == cnat.CNAT_LB_TYPE_MAGLEV {
			lb = "maglev"
		}
		fmt.Fprintf(&b, "[%d] %s;%d %s lb:%s\n", id, t.key.vip, t.key.port, strings.ToUpper(t.key.proto.String()[len("IP_API_PROTO_"):]), lb)
		for _, p := range t.paths {
			fmt.Fprintf(&b, "  %s;%d->%s;%d\n", fromAddress(p.SrcEp.Addr), p.SrcEp.Port, fromAddress(p.DstEp.Addr), p.DstEp.Port)
		}
	}
	return b.String()
}

func (e *Engine) showACLs() string {
	var b strings.Builder
	a := &e.st.acl
	for idx := uint32(0); int(idx) < len(a.ids.used); idx++ {
		entry, ok := a.acls[idx]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "acl-index %d count %d tag {%s}\n", idx, len(entry.rules), entry.tag)
		for n, r := range entry.rules {
			action := map[uint8]string{0: "deny", 1: "permit", 2: "permit+reflect"}[uint8(r.IsPermit)]
			fam := "ipv4"
			if r.SrcPrefix.Address.Af == ip_types.ADDRESS_IP6 {
				fam = "ipv6"
			}
			fmt.Fprintf(&b, "%9d: %s %s src %s dst %s proto %d sport %s dport %s\n", n, fam, action,
				fromPrefix(r.SrcPrefix), fromPrefix(r.DstPrefix), r.Proto,
				portRange(r.SrcportOrIcmptypeFirst, r.SrcportOrIcmptypeLast), portRange(r.DstportOrIcmpcodeFirst, r.DstportOrIcmpcodeLast))
		}
		var in, out []string
		for sw, list := range a.inputs {
			if contains(list, idx) {
				in = append(in, fmt.Sprint(sw))
			}
		}
		for sw, list := range a.outputs {
			if contains(list, idx) {
				out = append(out, fmt.Sprint(sw))
			}
		}
		sort.Strings(in)
		sort.Strings(out)
		fmt.Fprintf(&b, "  applied inbound on sw_if_index: %s\n  applied outbound on sw_if_index: %s\n", strings.Join(in, ","), strings.Join(out, ","))
	}
	return b.String()
}

func portRange(first, last uint16) string {
	if first == last {
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d-%d", first, last)
}

func (e *Engine) showTaps() string {
	var b strings.Builder
	for _, i := range e.st.sortedIfaces() {
		if i.tap == nil {
			continue
		}
		t := i.tap
		fmt.Fprintf(&b, "Interface: %s (ifindex %d)\n  name \"%s\"\n", i.name, i.idx, t.hostIfName)
		if t.hostNamespace != "" {
			fmt.Fprintf(&b, "  host-ns \"%s\"\n", t.hostNamespace)
		}
		if t.hostMTU != 0 {
			fmt.Fprintf(&b, "  host-mtu-size \"%d\"\n", t.hostMTU)
		}
		if t.hostMAC != nil {
			fmt.Fprintf(&b, "  host-mac-addr: %s\n", t.hostMAC)
		}
		fmt.Fprintf(&b, "  host-carrier-up: 1\n  gso-enabled %d\n", map[bool]int{false: 0, true: 1}[i.gso])
		if i.mac != nil {
			fmt.Fprintf(&b, "  Mac Address: %s\n", i.mac)
		}
		fmt.Fprintf(&b, "  Device instance: %d\n", t.id)
	}
	return b.String()
}

func (e *Engine) showIPIP() string {
	var b strings.Builder
	for _, i := range e.st.sortedIfaces() {
		if t := i.ipip; t != nil {
			fmt.Fprintf(&b, "[%d] instance %d src %s dst %s table-ID %d sw-if-idx %d flags [none] dscp CS0\n",
				t.devInstance, t.instance, t.src, t.dst, t.table, i.idx)
		}
	}
	if b.Len() == 0 {
		return "No IPIP tunnels configured...\n"
	}
	return b.String()
}

func (e *Engine) showVXLAN() string {
	var b strings.Builder
	for _, i := range e.st.sortedIfaces() {
		if t := i.vxlan; t != nil {
			fmt.Fprintf(&b, "[%d] instance %d src %s dst %s src_port %d dst_port %d vni %d fib-idx %d sw-if-idx %d\n",
				t.devInstance, t.instance, t.src, t.key.dst, t.key.srcPort, t.dstPort, t.key.vni, t.key.vrf, i.idx)
		}
	}
	if b.Len() == 0 {
		return "No vxlan tunnels configured...\n"
	}
	return b.String()
}

// center pads s to width like VPP's %= format.
func center(s string, width int) string {
	if len(s) >= width {
		return s
	}
	left := (width - len(s)) / 2
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", width-len(s)-left)
}

// pcapCommand follows pcap_trace_command_fn / pcap_dispatch_trace: "off"
// with nothing captured (the fake forwards no packets) answers "No packets
// captured..." and writes no file, as VPP does.
func (e *Engine) pcapCommand(on *bool, off bool, what string) (string, bool) {
	if !off {
		if *on {
			return fmt.Sprintf("%s: capture already enabled...\n", what), false
		}
		*on = true
		return "", true
	}
	if !*on {
		return fmt.Sprintf("%s: capture already disabled...\n", what), false
	}
	*on = false
	return fmt.Sprintf("%s: No packets captured...\n", what), false
}

func contains4(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}
