package vpptest

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/pkg/vppstatus"
)

// Source stands in for the agent's VPP connection holder (vppconn): a VPP
// instance and the status vpp-manager would publish for it, with a
// loopback in the role of the uplink. Attach points it at a (restarted)
// instance.
type Source struct {
	mu sync.Mutex
	v  *vpplink.VPP
	st vppstatus.Status
}

// Uplink addresses Attach gives the loopback.
var (
	SourceUplinkIPv4 = netip.MustParsePrefix("198.18.0.1/24")
	SourceUplinkIPv6 = netip.MustParsePrefix("2001:db8::1/64")
)

// Get returns the attached VPP.
func (s *Source) Get() (*vpplink.VPP, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v == nil {
		return nil, errors.New("VPP not attached")
	}
	return s.v, nil
}

// VPPStatus returns the status of the attached VPP.
func (s *Source) VPPStatus() vppstatus.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Attach points the source at inst, creating its uplink loopback (MTU
// 1500, addresses SourceUplinkIPv4/6).
func (s *Source) Attach(t testing.TB, inst *Instance) {
	t.Helper()
	ctx := context.Background()
	lo, err := inst.VPP.CreateLoopback(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Prefix{SourceUplinkIPv4, SourceUplinkIPv6} {
		if err := inst.VPP.AddInterfaceAddress(ctx, lo, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := inst.VPP.SetInterfaceUp(ctx, lo, true); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v = inst.VPP
	s.st = vppstatus.Status{State: vppstatus.StateRunning, VPPNetns: inst.Netns.Name, APISocket: inst.APISocket,
		Uplinks: []vppstatus.UplinkStatus{{Name: "uplink", SwIfIndex: uint32(lo), MTU: 1500}}}
}
