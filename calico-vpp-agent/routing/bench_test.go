package routing

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/inputs"
	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

// staticCalico is a synced, unchanging model.
type staticCalico struct{ st inputs.CalicoState }

func (c staticCalico) Watch() <-chan struct{}    { return make(chan struct{}) }
func (c staticCalico) State() inputs.CalicoState { return c.st }
func (c staticCalico) Synced() bool              { return true }

// BenchmarkInstallLearned measures the way from learned prefixes to VPP:
// 100k prefixes from 10 peers (half of them in pools tunnelling with IPIP) go
// through the reconciler and the VPP layer into VPP's FIB (routes/s); then
// one peer withdraws its 10k and the FIB converges (withdraw-ms).
func BenchmarkInstallLearned(b *testing.B) {
	const peers, perPeer = 10, 10_000
	inst := vpptest.Start(b, vpptest.Options{NoVhostNet: true})
	src := &vpptest.Source{}
	src.Attach(b, inst)
	// Documentation addresses only: IPv6 /64s under 2001:db8:1xx::/48, one
	// /48 per peer; the first five peers' in IPIP pools.
	u := Underlay{NodeIPv6: netip.MustParsePrefix("2001:db8::1/64")}
	pools := map[netip.Prefix]inputs.IPPool{
		netip.MustParsePrefix("2001:db8:100::/46"): {CIDR: netip.MustParsePrefix("2001:db8:100::/46"), IPIPMode: inputs.EncapAlways},
		netip.MustParsePrefix("2001:db8:104::/48"): {CIDR: netip.MustParsePrefix("2001:db8:104::/48"), IPIPMode: inputs.EncapAlways},
		netip.MustParsePrefix("2001:db8:105::/48"): {CIDR: netip.MustParsePrefix("2001:db8:105::/48")},
	}
	peerAddr := func(p int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", 0x10+p)) }
	learned := Learned{}
	for p := range peers {
		for i := range perPeer {
			prefix := netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x:%x::/64", 0x100+p, i))
			learned[prefix] = []netip.Addr{peerAddr(p)}
		}
	}
	withdrawn := Learned{}
	for prefix, hops := range learned {
		if hops[0] != peerAddr(0) {
			withdrawn[prefix] = hops
		}
	}
	ctx := context.Background()
	var installed, withdraw time.Duration
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		tj, _ := journal.Open(filepath.Join(dir, "t"))
		rj, _ := journal.Open(filepath.Join(dir, "r"))
		rec := reconcile.New(reconcile.Options{Log: vpptest.Logger(b).WithField("bench", "install")})
		m := NewManager(rec, src, staticCalico{}, tj, rj, Options{Log: vpptest.Logger(b)})
		if _, err := rec.Sync(ctx); err != nil { // the initial dump
			b.Fatal(err)
		}
		b.StartTimer()

		start := time.Now()
		m.install(learned, nil, pools, u)
		syncAll(b, rec)
		installed += time.Since(start)

		start = time.Now()
		m.install(withdrawn, nil, pools, u)
		syncAll(b, rec)
		withdraw += time.Since(start)

		b.StopTimer()
		m.install(Learned{}, nil, pools, u)
		syncAll(b, rec)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(peers*perPeer)*n/installed.Seconds(), "routes/s")
	b.ReportMetric(float64(withdraw.Milliseconds())/n, "withdraw-10k-ms")
}

func syncAll(b *testing.B, rec *reconcile.Reconciler) {
	b.Helper()
	if _, err := rec.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
}
