package vpplink

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// InterfaceCounters are an interface's traffic counters.
type InterfaceCounters struct {
	SwIfIndex SwIfIndex
	Name      string
	RxPackets uint64
	RxBytes   uint64
	TxPackets uint64
	TxBytes   uint64
	Drops     uint64
	Punts     uint64
	RxErrors  uint64
	TxErrors  uint64
	// Other holds the remaining counters by VPP's name ("ip4", "rx-miss").
	Other map[string]uint64
}

// InterfaceCounters reads every interface's counters from VPP's
// "show interface" (VPP prints only non-zero counters).
func (v *VPP) InterfaceCounters(ctx context.Context) ([]InterfaceCounters, error) {
	out, err := v.CLI(ctx, "show interface")
	if err != nil {
		return nil, err
	}
	counters, err := ParseShowInterface(out)
	if err != nil {
		return nil, &Error{Op: "read interface counters", Err: err}
	}
	return counters, nil
}

// ParseShowInterface parses the table VPP's "show interface" prints
// (src/vnet/interface_format.c): a header, then per interface a row
// "name idx state mtu [counter count]" followed by indented
// "counter count" lines.
func ParseShowInterface(text string) ([]InterfaceCounters, error) {
	var out []InterfaceCounters
	var cur *InterfaceCounters
	for n, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" || (n == 0 && strings.Contains(line, "Counter")) {
			continue
		}
		fields := strings.Fields(line)
		if line[0] != ' ' {
			if len(fields) < 4 {
				return nil, fmt.Errorf("line %d: %q is not an interface row", n+1, line)
			}
			idx, err := strconv.ParseUint(fields[1], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("line %d: bad index %q", n+1, fields[1])
			}
			out = append(out, InterfaceCounters{SwIfIndex: SwIfIndex(idx), Name: fields[0], Other: map[string]uint64{}})
			cur = &out[len(out)-1]
			fields = fields[4:]
		}
		if cur == nil || len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: %q is not a counter", n+1, line)
		}
		value, err := strconv.ParseUint(fields[len(fields)-1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: bad count %q", n+1, fields[len(fields)-1])
		}
		cur.set(strings.Join(fields[:len(fields)-1], " "), value)
	}
	return out, nil
}

func (c *InterfaceCounters) set(name string, value uint64) {
	switch name {
	case "rx packets":
		c.RxPackets = value
	case "rx bytes":
		c.RxBytes = value
	case "tx packets":
		c.TxPackets = value
	case "tx bytes":
		c.TxBytes = value
	case "drops":
		c.Drops = value
	case "punt":
		c.Punts = value
	case "rx-error":
		c.RxErrors = value
	case "tx-error":
		c.TxErrors = value
	default:
		c.Other[name] = value
	}
}
