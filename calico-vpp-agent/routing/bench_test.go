package routing

import (
	"context"
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
// 100k prefixes from 10 peers (half the peers' pools tunnel with IPIP) go
// through the reconciler and the VPP layer into VPP's FIB (routes/s); then
// one peer withdraws its 10k and the FIB converges (withdraw-ms).
func BenchmarkInstallLearned(b *testing.B) {
	const peers, perPeer = 10, 10_000
	inst := vpptest.Start(b, vpptest.Options{NoVhostNet: true})
	src := &vpptest.Source{}
	src.Attach(b, inst)
	u := Underlay{NodeIPv4: netip.MustParsePrefix("198.18.0.1/24")}
	pools := map[netip.Prefix]inputs.IPPool{
		netip.MustParsePrefix("10.0.0.0/9"):   {CIDR: netip.MustParsePrefix("10.0.0.0/9"), IPIPMode: inputs.EncapAlways},
		netip.MustParsePrefix("10.128.0.0/9"): {CIDR: netip.MustParsePrefix("10.128.0.0/9")},
	}
	learned := Learned{}
	for p := range peers {
		nh := netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + p)})
		for i := range perPeer {
			n := p*perPeer + i
			// /26 blocks: peers 0-4 in the IPIP pool, 5-9 in the plain one.
			addr := netip.AddrFrom4([4]byte{10, byte(n>>10&0x7f) | byte(p/5)<<7, byte(n >> 2), byte(n&3) << 6})
			learned[netip.PrefixFrom(addr, 26)] = []netip.Addr{nh}
		}
	}
	withdrawn := Learned{}
	for prefix, hops := range learned {
		if hops[0] != netip.AddrFrom4([4]byte{198, 18, 0, 10}) {
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
