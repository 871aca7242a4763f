// Package cni is the agent's side of pod networking: it turns the CNI
// requests Calico's gRPC dataplane protocol carries into pods the agent
// wires into VPP.
package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/projectcalico/calico/cni-plugin/pkg/dataplane/grpc/proto"

	"github.com/calico-vpp/calico-vpp/pkg/config"
)

// InterfacesSpecAnnotation lets a pod size its interfaces:
// {"eth0": {"rx": 2, "tx": 2, "rxqsz": 2048, "isl3": true}}. Values are
// bounded by maxPodIfSpec.
const InterfacesSpecAnnotation = "cni.projectcalico.org/vppInterfacesSpec"

// Key identifies a pod interface the way a CNI DEL does: by network
// namespace and interface name (a DEL carries nothing else).
type Key struct {
	Netns         string `json:"netns"`
	InterfaceName string `json:"interfaceName"`
}

func (k Key) String() string { return k.Netns + ":" + k.InterfaceName }

// Workload is who the interface belongs to, for tags, logs and metrics.
type Workload struct {
	Namespace    string `json:"namespace,omitempty"`
	Pod          string `json:"pod,omitempty"`
	Endpoint     string `json:"endpoint,omitempty"`
	Orchestrator string `json:"orchestrator,omitempty"`
	Node         string `json:"node,omitempty"`
}

// Pod is one validated ADD: everything needed to wire the interface.
type Pod struct {
	Key
	// HostInterfaceName is the name Calico asked for (cali...): it becomes
	// the WorkloadEndpoint's interface name, by which Felix later names
	// the pod in policy updates.
	HostInterfaceName string         `json:"hostInterfaceName"`
	Addresses         []netip.Prefix `json:"addresses"`
	Routes            []netip.Prefix `json:"routes,omitempty"`
	// MTU is what the request asked for; 0 lets the agent derive it from
	// the uplink and the encapsulation.
	MTU               int                  `json:"mtu,omitempty"`
	AllowIPForwarding bool                 `json:"allowIPForwarding,omitempty"`
	Spec              config.InterfaceSpec `json:"spec"`
	Workload          Workload             `json:"workload"`
}

// HasIPv4 and HasIPv6 report the families the pod has addresses of.
func (p *Pod) HasIPv4() bool {
	return slices.ContainsFunc(p.Addresses, func(a netip.Prefix) bool { return a.Addr().Is4() })
}
func (p *Pod) HasIPv6() bool {
	return slices.ContainsFunc(p.Addresses, func(a netip.Prefix) bool { return a.Addr().Is6() })
}

// requestErrors collects every problem of one request, each naming the
// proto field and its value.
type requestErrors []error

func (e *requestErrors) add(field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// ParseAdd validates an ADD request and computes the pod's interface spec
// from the configuration and the pod's annotation.
func ParseAdd(req *proto.AddRequest, ifs *config.Interfaces) (Pod, error) {
	var errs requestErrors
	key := parseKey(&errs, req.GetNetns(), req.GetInterfaceName())
	pod := Pod{Key: key, HostInterfaceName: req.GetDesiredHostInterfaceName()}
	if pod.HostInterfaceName == "" {
		errs.add("desired_host_interface_name", "required (Calico names the host side of every workload interface)")
	} else if !validIfName(pod.HostInterfaceName) {
		errs.add("desired_host_interface_name", "invalid interface name %q (1-15 characters, no '/' or spaces)", pod.HostInterfaceName)
	}

	if len(req.GetContainerIps()) == 0 {
		errs.add("container_ips", "at least one address is required")
	}
	seen := map[netip.Addr]int{}
	for i, ip := range req.GetContainerIps() {
		field := fmt.Sprintf("container_ips[%d].address", i)
		p, err := netip.ParsePrefix(ip.GetAddress())
		if err != nil {
			errs.add(field, "%q is not an address with a prefix length (like 198.18.100.2/32)", ip.GetAddress())
			continue
		}
		// The pod's interface holds each address alone (/32, /128), as
		// Calico's dataplanes do whatever IPAM's block length: the pod
		// reaches everything through its default route.
		addr := p.Addr().Unmap()
		p = netip.PrefixFrom(addr, addr.BitLen())
		if prev, dup := seen[p.Addr()]; dup {
			errs.add(field, "%s repeats container_ips[%d]", p.Addr(), prev)
			continue
		}
		seen[p.Addr()] = i
		// Calico's client sends net.IP(nil).String(), "<nil>", for no gateway.
		if gw := ip.GetGateway(); gw != "" && gw != "<nil>" {
			if _, err := netip.ParseAddr(gw); err != nil {
				errs.add(fmt.Sprintf("container_ips[%d].gateway", i), "%q is not an IP address", gw)
			}
		}
		pod.Addresses = append(pod.Addresses, p)
	}
	for i, r := range req.GetContainerRoutes() {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			errs.add(fmt.Sprintf("container_routes[%d]", i), "%q is not a prefix (like 0.0.0.0/0)", r)
			continue
		}
		if (p.Addr().Is4() && !pod.HasIPv4()) || (p.Addr().Is6() && !pod.HasIPv6()) {
			// Calico's plugin sends its default routes of both families
			// whatever IPAM gave; like its Linux dataplane, a route with no
			// address of its family in the pod has nothing to leave by and
			// is skipped.
			continue
		}
		pod.Routes = append(pod.Routes, p.Masked())
	}

	if s := req.GetSettings(); s != nil {
		pod.AllowIPForwarding = s.GetAllowIpForwarding()
		pod.MTU = int(s.GetMtu())
		minMTU := 68 // IPv4's minimum
		if pod.HasIPv6() {
			minMTU = 1280
		}
		if pod.MTU != 0 && (pod.MTU < minMTU || pod.MTU > 65535) {
			errs.add("settings.mtu", "%d out of range (want %d-65535, or 0 for the uplink's MTU less the encapsulation)", pod.MTU, minMTU)
		}
	}

	w := req.GetWorkload()
	pod.Workload = Workload{Namespace: w.GetNamespace(), Pod: w.GetPod(), Endpoint: w.GetEndpoint(), Orchestrator: w.GetOrchestrator(), Node: w.GetNode()}
	if pod.Workload.Pod == "" {
		pod.Workload.Pod = w.GetName()
	}

	var override config.InterfaceSpec
	if raw, ok := w.GetAnnotations()[InterfacesSpecAnnotation]; ok {
		field := fmt.Sprintf("workload.annotations[%q]", InterfacesSpecAnnotation)
		var specs map[string]config.InterfaceSpec
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&specs); err != nil {
			errs.add(field, "%q is not a JSON object of interface specs by interface name: %v", raw, err)
		} else {
			override = specs[key.InterfaceName]
		}
		spec, err := ifs.PodInterfaceSpec(fmt.Sprintf("%s[%q]", field, key.InterfaceName), override)
		if err != nil {
			errs = append(errs, err)
		}
		pod.Spec = spec
	} else {
		pod.Spec, _ = ifs.PodInterfaceSpec("", override) // the zero override is always valid
	}

	if len(errs) > 0 {
		return Pod{}, fmt.Errorf("invalid ADD for %s: %w", key, errors.Join(errs...))
	}
	return pod, nil
}

// ParseDel validates a DEL request.
func ParseDel(req *proto.DelRequest) (Key, error) {
	var errs requestErrors
	key := parseKey(&errs, req.GetNetns(), req.GetInterfaceName())
	if len(errs) > 0 {
		return Key{}, fmt.Errorf("invalid DEL: %w", errors.Join(errs...))
	}
	return key, nil
}

func parseKey(errs *requestErrors, netns, ifName string) Key {
	switch {
	case netns == "":
		errs.add("netns", "required")
	case !filepath.IsAbs(netns):
		errs.add("netns", "%q is not an absolute path to a network namespace", netns)
	}
	switch {
	case ifName == "":
		errs.add("interface_name", "required")
	case !validIfName(ifName):
		errs.add("interface_name", "invalid interface name %q (1-15 characters, no '/' or spaces)", ifName)
	}
	return Key{Netns: filepath.Clean(netns), InterfaceName: ifName}
}

// validIfName follows the kernel's dev_valid_name.
func validIfName(name string) bool {
	return name != "" && len(name) <= 15 && name != "." && name != ".." && !strings.ContainsAny(name, "/: \t\n")
}
