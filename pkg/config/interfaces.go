package config

import (
	"errors"
	"fmt"
	"strings"
)

// Driver is the VPP driver an uplink is attached with.
type Driver string

// Supported uplink drivers. DriverAuto lets vpp-manager pick the best one
// the interface supports and fall back when it fails.
const (
	DriverAuto     Driver = ""
	DriverAFPacket Driver = "af_packet"
	DriverAFXDP    Driver = "af_xdp"
	DriverDPDK     Driver = "dpdk"
	DriverAVF      Driver = "avf"
	DriverVirtio   Driver = "virtio"
)

var drivers = []Driver{DriverAFPacket, DriverAFXDP, DriverDPDK, DriverAVF, DriverVirtio}

// RxMode is VPP's receive mode for an interface queue.
type RxMode string

// Receive modes accepted in interface specs ("" keeps the default).
const (
	RxModeDefault   RxMode = ""
	RxModeInterrupt RxMode = "interrupt"
	RxModeAdaptive  RxMode = "adaptive"
	RxModePolling   RxMode = "polling"
)

var rxModes = []RxMode{RxModeInterrupt, RxModeAdaptive, RxModePolling}

// Interconnect is how a Linux-side interface (host tap, pod interface) is
// joined to VPP.
type Interconnect string

// Interconnect modes. With auto, VPP's own tap/tun (which need the kernel's
// vhost-net) are used when /dev/vhost-net exists, else a veth pair whose VPP
// end is attached as an AF_PACKET interface.
const (
	InterconnectAuto  Interconnect = "auto"
	InterconnectVhost Interconnect = "vhost"
	InterconnectVeth  Interconnect = "veth"
)

var interconnects = []Interconnect{InterconnectAuto, InterconnectVhost, InterconnectVeth}

// InterfaceSpec sizes an interface's queues. Zero values mean "default".
type InterfaceSpec struct {
	NumRxQueues  int          `json:"rx,omitempty"`
	NumTxQueues  int          `json:"tx,omitempty"`
	RxQueueSize  int          `json:"rxqsz,omitempty"`
	TxQueueSize  int          `json:"txqsz,omitempty"`
	IsL3         *bool        `json:"isl3,omitempty"`
	RxMode       RxMode       `json:"rxMode,omitempty"`
	Interconnect Interconnect `json:"interconnect,omitempty"`
}

// UplinkSpec is one interface VPP takes over from Linux.
type UplinkSpec struct {
	InterfaceSpec
	InterfaceName       string            `json:"interfaceName"`
	VppDriver           Driver            `json:"vppDriver,omitempty"`
	NewDriverName       string            `json:"newDriver,omitempty"`
	IsMain              bool              `json:"isMain,omitempty"`
	Mtu                 int               `json:"mtu,omitempty"`
	PhysicalNetworkName string            `json:"physicalNetworkName,omitempty"`
	Annotations         map[string]string `json:"annotations,omitempty"`
}

// Interfaces is the decoded CALICOVPP_INTERFACES. After Load, the main
// uplink (if any) is first and has IsMain set.
type Interfaces struct {
	DefaultPodIfSpec InterfaceSpec `json:"defaultPodIfSpec"`
	MaxPodIfSpec     InterfaceSpec `json:"maxPodIfSpec"`
	VppHostTapSpec   InterfaceSpec `json:"vppHostTapSpec"`
	UplinkInterfaces []UplinkSpec  `json:"uplinkInterfaces"`
}

// MainUplink returns the main uplink, or false when none is configured.
func (i *Interfaces) MainUplink() (UplinkSpec, bool) {
	if len(i.UplinkInterfaces) == 0 {
		return UplinkSpec{}, false
	}
	return i.UplinkInterfaces[0], true
}

func boolPtr(b bool) *bool { return &b }

func defaultInterfaces() Interfaces {
	return Interfaces{
		DefaultPodIfSpec: InterfaceSpec{NumRxQueues: 1, NumTxQueues: 1, RxQueueSize: 1024, TxQueueSize: 1024, IsL3: boolPtr(true), RxMode: RxModeAdaptive, Interconnect: InterconnectAuto},
		MaxPodIfSpec:     InterfaceSpec{NumRxQueues: 16, NumTxQueues: 16, RxQueueSize: 4096, TxQueueSize: 4096},
		VppHostTapSpec:   InterfaceSpec{NumRxQueues: 1, NumTxQueues: 1, RxQueueSize: 1024, TxQueueSize: 1024, IsL3: boolPtr(false), RxMode: RxModeAdaptive, Interconnect: InterconnectAuto},
	}
}

// fillDefaults completes a spec from defaults, field by field.
func (s InterfaceSpec) fillDefaults(d InterfaceSpec) InterfaceSpec {
	if s.NumRxQueues == 0 {
		s.NumRxQueues = d.NumRxQueues
	}
	if s.NumTxQueues == 0 {
		s.NumTxQueues = d.NumTxQueues
	}
	if s.RxQueueSize == 0 {
		s.RxQueueSize = d.RxQueueSize
	}
	if s.TxQueueSize == 0 {
		s.TxQueueSize = d.TxQueueSize
	}
	if s.IsL3 == nil {
		s.IsL3 = d.IsL3
	}
	if s.RxMode == RxModeDefault {
		s.RxMode = d.RxMode
	}
	if s.Interconnect == "" {
		s.Interconnect = d.Interconnect
	}
	return s
}

// Bounded clamps the queue counts and sizes of s to max (zero in max means
// no bound). It is used for per-pod overrides, which may not exceed
// maxPodIfSpec.
func (s InterfaceSpec) Bounded(max InterfaceSpec) InterfaceSpec {
	clamp := func(v, m int) int {
		if m > 0 && v > m {
			return m
		}
		return v
	}
	s.NumRxQueues = clamp(s.NumRxQueues, max.NumRxQueues)
	s.NumTxQueues = clamp(s.NumTxQueues, max.NumTxQueues)
	s.RxQueueSize = clamp(s.RxQueueSize, max.RxQueueSize)
	s.TxQueueSize = clamp(s.TxQueueSize, max.TxQueueSize)
	return s
}

// PodInterfaceSpec is a pod interface's effective spec: override (a pod's
// own request, from its annotation; zero fields mean "the default")
// validated, completed from defaultPodIfSpec and bounded by maxPodIfSpec.
// source names the override in errors, e.g. the annotation and interface.
func (i *Interfaces) PodInterfaceSpec(source string, override InterfaceSpec) (InterfaceSpec, error) {
	errs := &fieldErrors{variable: source}
	override.validate(errs, "")
	if len(errs.errs) > 0 {
		return InterfaceSpec{}, errors.Join(errs.errs...)
	}
	return override.fillDefaults(i.DefaultPodIfSpec).Bounded(i.MaxPodIfSpec), nil
}

// Limits VPP places on queues: ring sizes are powers of two up to 32768
// (virtio/tap rings), and we allow at most 64 queues per direction.
const (
	maxQueues     = 64
	minQueueSize  = 64
	maxQueueSize  = 32768
	minUplinkMTU  = 576
	maxUplinkMTU  = 9216
	maxAnnotation = 1024
)

func (s InterfaceSpec) validate(errs *fieldErrors, field string) {
	checkQueues := func(name string, v int) {
		if v < 0 || v > maxQueues {
			errs.add(joinField(field, name), "queue count %d out of range (want 1-%d, or 0 for the default)", v, maxQueues)
		}
	}
	checkSize := func(name string, v int) {
		if v == 0 {
			return
		}
		if v < minQueueSize || v > maxQueueSize || v&(v-1) != 0 {
			errs.add(joinField(field, name), "queue size %d is not a power of two between %d and %d", v, minQueueSize, maxQueueSize)
		}
	}
	checkQueues("rx", s.NumRxQueues)
	checkQueues("tx", s.NumTxQueues)
	checkSize("rxqsz", s.RxQueueSize)
	checkSize("txqsz", s.TxQueueSize)
	if s.RxMode != RxModeDefault && !oneOf(s.RxMode, rxModes) {
		errs.add(joinField(field, "rxMode"), "unknown rx mode %q (want %s)", s.RxMode, joinEnum(rxModes))
	}
	if s.Interconnect != "" && !oneOf(s.Interconnect, interconnects) {
		errs.add(joinField(field, "interconnect"), "unknown interconnect %q (want %s)", s.Interconnect, joinEnum(interconnects))
	}
}

func (u *UplinkSpec) validate(errs *fieldErrors, field string) {
	if strings.TrimSpace(u.InterfaceName) == "" {
		errs.add(joinField(field, "interfaceName"), "required")
	} else if len(u.InterfaceName) > 15 || strings.ContainsAny(u.InterfaceName, "/ \t\n") {
		errs.add(joinField(field, "interfaceName"), "invalid Linux interface name %q", u.InterfaceName)
	}
	if u.VppDriver != DriverAuto && !oneOf(u.VppDriver, drivers) {
		errs.add(joinField(field, "vppDriver"), "unknown driver %q (want %s)", u.VppDriver, joinEnum(drivers))
	}
	if u.Mtu != 0 && (u.Mtu < minUplinkMTU || u.Mtu > maxUplinkMTU) {
		errs.add(joinField(field, "mtu"), "MTU %d out of range (want %d-%d, or 0 to keep the Linux MTU)", u.Mtu, minUplinkMTU, maxUplinkMTU)
	}
	if u.Interconnect != "" {
		errs.add(joinField(field, "interconnect"), "%q is only meaningful for the host tap and pod interfaces", u.Interconnect)
	}
	for k, v := range u.Annotations {
		if k == "" || len(v) > maxAnnotation {
			errs.add(joinField(field, fmt.Sprintf("annotations[%q]", k)), "invalid annotation")
		}
	}
	u.InterfaceSpec.validate(errs, field)
}

// normalize validates the decoded interfaces, fills defaults and moves the
// main uplink first.
func (i *Interfaces) normalize(errs *fieldErrors) {
	d := defaultInterfaces()
	i.DefaultPodIfSpec.validate(errs, "defaultPodIfSpec")
	i.MaxPodIfSpec.validate(errs, "maxPodIfSpec")
	i.VppHostTapSpec.validate(errs, "vppHostTapSpec")
	i.DefaultPodIfSpec = i.DefaultPodIfSpec.fillDefaults(d.DefaultPodIfSpec)
	i.MaxPodIfSpec = i.MaxPodIfSpec.fillDefaults(d.MaxPodIfSpec)
	i.VppHostTapSpec = i.VppHostTapSpec.fillDefaults(d.VppHostTapSpec)
	if i.VppHostTapSpec.IsL3 != nil && *i.VppHostTapSpec.IsL3 {
		errs.add("vppHostTapSpec.isl3", "true is not supported: the host tap carries the uplink's MAC and must be L2")
	}

	seen := map[string]int{}
	mainIdx := -1
	for idx := range i.UplinkInterfaces {
		u := &i.UplinkInterfaces[idx]
		field := fmt.Sprintf("uplinkInterfaces[%d]", idx)
		u.validate(errs, field)
		if prev, dup := seen[u.InterfaceName]; dup && u.InterfaceName != "" {
			errs.add(joinField(field, "interfaceName"), "%q already used by uplinkInterfaces[%d]", u.InterfaceName, prev)
		}
		seen[u.InterfaceName] = idx
		if u.IsMain {
			if mainIdx >= 0 {
				errs.add(joinField(field, "isMain"), "only one uplink may be main (uplinkInterfaces[%d] already is)", mainIdx)
			} else {
				mainIdx = idx
			}
		}
	}
	if len(i.UplinkInterfaces) > 0 {
		if mainIdx < 0 {
			mainIdx = 0
		}
		main := i.UplinkInterfaces[mainIdx]
		main.IsMain = true
		rest := make([]UplinkSpec, 0, len(i.UplinkInterfaces))
		rest = append(rest, main)
		for idx, u := range i.UplinkInterfaces {
			if idx != mainIdx {
				rest = append(rest, u)
			}
		}
		i.UplinkInterfaces = rest
	}
}

func oneOf[T comparable](v T, set []T) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func joinEnum[T ~string](set []T) string {
	parts := make([]string, len(set))
	for i, s := range set {
		parts[i] = string(s)
	}
	return strings.Join(parts, "|")
}
