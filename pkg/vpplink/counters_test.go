package vpplink_test

import (
	"testing"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// A real VPP 25.10 "show interface" with traffic.
const showInterfaceSample = `              Name               Idx    State  MTU (L3/IP4/IP6/MPLS)     Counter          Count     
host-eth0                         1      up          1500/0/0/0     rx packets                    10
                                                                    rx bytes                    1234
                                                                    tx packets                     5
                                                                    tx bytes                     500
                                                                    drops                          3
                                                                    ip4                            9
local0                            0     down          0/0/0/0       
tap0                              2      up          9000/0/0/0     rx packets                     1
`

func TestParseShowInterface(t *testing.T) {
	got, err := vpplink.ParseShowInterface(showInterfaceSample)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d interfaces, want 3: %+v", len(got), got)
	}
	eth := got[0]
	if eth.Name != "host-eth0" || eth.SwIfIndex != 1 || eth.RxPackets != 10 || eth.RxBytes != 1234 || eth.TxPackets != 5 ||
		eth.TxBytes != 500 || eth.Drops != 3 || eth.Other["ip4"] != 9 {
		t.Errorf("host-eth0 = %+v", eth)
	}
	if got[1].Name != "local0" || got[1].RxPackets != 0 || got[2].Name != "tap0" || got[2].RxPackets != 1 {
		t.Errorf("others = %+v", got[1:])
	}
	for _, bad := range []string{"eth0 x up 1500/0/0/0\n", "eth0 1 up 1500/0/0/0 rx packets many\n"} {
		if _, err := vpplink.ParseShowInterface(bad); err == nil {
			t.Errorf("ParseShowInterface(%q) succeeded", bad)
		}
	}
}

func TestInterfaceCountersListsEveryInterface(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	tun := newIPIP(t, v, "198.18.0.1", "198.18.0.2")
	counters, err := v.InterfaceCounters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[vpplink.SwIfIndex]string{}
	for _, c := range counters {
		seen[c.SwIfIndex] = c.Name
	}
	if seen[0] != "local0" || seen[tun] != "ipip0" {
		t.Errorf("counters cover %v, want local0 and ipip0", seen)
	}
}

func TestAddressReplace(t *testing.T) {
	v := vpptest.New(t)
	ctx := testCtx(t)
	tun := newIPIP(t, v, "198.18.0.1", "198.18.0.2")
	for _, a := range []string{"192.0.2.1/24", "192.0.2.2/24"} {
		if err := v.AddInterfaceAddress(ctx, tun, pfx(a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.ReplaceAddressesBegin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v.AddInterfaceAddress(ctx, tun, pfx("192.0.2.2/24")); err != nil {
		t.Fatalf("re-adding a stale address: %v", err)
	}
	if err := v.ReplaceAddressesEnd(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := v.InterfaceAddresses(ctx, tun, false)
	if len(got) != 1 || got[0] != pfx("192.0.2.2/24") {
		t.Errorf("addresses after replace = %v, want only 192.0.2.2/24", got)
	}
}
