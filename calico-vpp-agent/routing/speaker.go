package routing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	bgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"
	"github.com/sirupsen/logrus"
)

// BGP is the embedded GoBGP speaker, driven by desired Speaker values.
// GoBGP's own goroutines live as long as the process: on exit the TCP
// sessions just drop, without a Cease, so peers keep our routes for the
// graceful-restart time while the agent restarts.
type BGP struct {
	s   *server.BgpServer
	log *logrus.Entry

	mu      sync.Mutex
	running Speaker // as applied; zero: stopped
	ads     map[netip.Prefix]advertised
	// learned: best paths by prefix and next hop, kept from GoBGP's events.
	learned map[netip.Prefix]map[netip.Addr]bool
	changed chan struct{}
	// eor records, per peer address, the families whose End-of-RIB came.
	eor         map[netip.Addr]map[string]bool
	established map[netip.Addr]bool
	// stopWatch ends the event watcher of the current run; started is
	// when the run began.
	stopWatch context.CancelFunc
	started   time.Time
	// exports is the export policy GoBGP has (exportsSet: since this run).
	exports    exportState
	exportsSet bool
}

// Session timers: the wait between connection attempts, and before a
// dropped session is tried again.
const (
	connectRetrySeconds = 5
	idleHoldSeconds     = 2
)

type advertised struct {
	ad   Advertisement
	uuid []byte
}

// NewBGP starts GoBGP's server loop (idle until Apply), logging at level
// until a BGPConfiguration's logSeverityScreen says otherwise.
func NewBGP(log *logrus.Entry, level logrus.Level) *BGP {
	l := newGoBGPLogger(log)
	l.SetLevel(bgplog.LogLevel(level)) // same numbering as logrus
	s := server.NewBgpServer(server.LoggerOption(l))
	go s.Serve() // GoBGP's loop has no stop: it lives with the process
	return &BGP{s: s, log: log, ads: map[netip.Prefix]advertised{}, learned: map[netip.Prefix]map[netip.Addr]bool{},
		changed: make(chan struct{}, 1), eor: map[netip.Addr]map[string]bool{}, established: map[netip.Addr]bool{}}
}

// Changed receives a value (coalesced) after learned paths or peer
// states changed.
func (b *BGP) Changed() <-chan struct{} { return b.changed }

func (b *BGP) notify() {
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

// Learned returns a copy of the best paths.
func (b *BGP) Learned() Learned {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(Learned, len(b.learned))
	for p, hops := range b.learned {
		l := make([]netip.Addr, 0, len(hops))
		for h := range hops {
			l = append(l, h)
		}
		slices.SortFunc(l, netip.Addr.Compare)
		out[p] = l
	}
	return out
}

// Apply makes GoBGP run sp: (re)started when the global settings change,
// peers added, removed or updated to match.
func (b *BGP) Apply(ctx context.Context, sp Speaker) error {
	b.mu.Lock()
	running := b.running
	running.Peers = maps.Clone(running.Peers) // Status reads the running map
	b.mu.Unlock()
	globalChanged := running.AS != sp.AS || running.RouterID != sp.RouterID || running.ListenPort != sp.ListenPort ||
		running.NodeIPv4 != sp.NodeIPv4 || running.NodeIPv6 != sp.NodeIPv6
	if globalChanged && running.Enabled() {
		b.log.WithFields(logrus.Fields{"as": sp.AS, "routerID": sp.RouterID, "port": sp.ListenPort}).Info("restarting BGP with new global settings")
		if err := b.stop(ctx); err != nil {
			return err
		}
		running = Speaker{}
	}
	if !sp.Enabled() {
		return nil
	}
	if !running.Enabled() {
		g := &api.Global{Asn: sp.AS, RouterId: sp.RouterID.String(), ListenPort: int32(sp.ListenPort), UseMultiplePaths: true,
			GracefulRestart: &api.GracefulRestart{Enabled: true, RestartTime: uint32(DefaultRestartTime / time.Second)}}
		for _, a := range []netip.Prefix{sp.NodeIPv4, sp.NodeIPv6} {
			if a.IsValid() {
				g.ListenAddresses = append(g.ListenAddresses, a.Addr().String())
			}
		}
		if err := b.s.StartBgp(ctx, &api.StartBgpRequest{Global: g}); err != nil {
			// GoBGP keeps the listeners it opened before failing: close them,
			// or every retry would find its port taken.
			_ = b.s.StopBgp(ctx, &api.StopBgpRequest{})
			return fmt.Errorf("start BGP (AS %d, router ID %s, port %d): %w", sp.AS, sp.RouterID, sp.ListenPort, err)
		}
		// Nothing is exported until Advertise knows what may be: a route
		// learned from one peer must never reach another meanwhile.
		if err := b.setExports(ctx, exportState{}); err != nil {
			_ = b.s.StopBgp(ctx, &api.StopBgpRequest{})
			return err
		}
		wctx, cancel := context.WithCancel(ctx)
		if err := b.watch(wctx); err != nil {
			cancel()
			_ = b.s.StopBgp(ctx, &api.StopBgpRequest{})
			return err
		}
		running = Speaker{AS: sp.AS, RouterID: sp.RouterID, ListenPort: sp.ListenPort, NodeIPv4: sp.NodeIPv4, NodeIPv6: sp.NodeIPv6, Peers: map[PeerKey]Peer{}}
		b.mu.Lock()
		b.stopWatch, b.started = cancel, time.Now()
		b.mu.Unlock()
		b.log.WithFields(logrus.Fields{"as": sp.AS, "routerID": sp.RouterID, "port": sp.ListenPort}).Info("BGP started")
	}
	if level, ok := logLevels[sp.LogLevel]; ok && sp.LogLevel != running.LogLevel {
		_ = b.s.SetLogLevel(ctx, &api.SetLogLevelRequest{Level: api.SetLogLevelRequest_Level(level)})
	}
	var errs []error
	for k, p := range running.Peers {
		if want, ok := sp.Peers[k]; !ok || want.session() != p.session() {
			if err := b.s.DeletePeer(ctx, &api.DeletePeerRequest{Address: k.Address.String()}); err != nil {
				errs = append(errs, fmt.Errorf("remove peer %s: %w", k, err))
				continue
			}
			delete(running.Peers, k)
			b.forgetPeer(k.Address)
			b.log.WithField("peer", k).Info("BGP peer removed")
		}
	}
	for k, p := range sp.Peers {
		if _, ok := running.Peers[k]; ok {
			running.Peers[k] = p // the same session (maybe asked for by another resource)
			continue
		}
		if err := b.s.AddPeer(ctx, &api.AddPeerRequest{Peer: b.apiPeer(sp, p)}); err != nil {
			errs = append(errs, fmt.Errorf("add peer %s (%s): %w", k, p.Source, err))
			continue
		}
		running.Peers[k] = p
		b.log.WithFields(logrus.Fields{"peer": k, "as": p.AS, "source": p.Source, "passive": p.Passive}).Info("BGP peer added")
	}
	running.LogLevel = sp.LogLevel
	b.mu.Lock()
	b.running = running
	b.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("apply BGP peers: %w", errors.Join(errs...))
	}
	return nil
}

var logLevels = map[string]uint32{
	"debug": uint32(bgplog.DebugLevel), "Debug": uint32(bgplog.DebugLevel),
	"info": uint32(bgplog.InfoLevel), "Info": uint32(bgplog.InfoLevel),
	"warning": uint32(bgplog.WarnLevel), "Warning": uint32(bgplog.WarnLevel),
	"error": uint32(bgplog.ErrorLevel), "Error": uint32(bgplog.ErrorLevel),
	"fatal": uint32(bgplog.FatalLevel), "Fatal": uint32(bgplog.FatalLevel),
}

// stop stops GoBGP (a Cease to every peer) and the event watcher of the
// run that ends.
func (b *BGP) stop(ctx context.Context) error {
	b.mu.Lock()
	stopWatch := b.stopWatch
	b.mu.Unlock()
	if stopWatch != nil {
		stopWatch()
	}
	if err := b.s.StopBgp(ctx, &api.StopBgpRequest{}); err != nil {
		return fmt.Errorf("stop BGP: %w", err)
	}
	b.mu.Lock()
	b.running, b.stopWatch, b.started = Speaker{}, nil, time.Time{}
	b.exports, b.exportsSet = exportState{}, false
	b.learned = map[netip.Prefix]map[netip.Addr]bool{}
	b.eor, b.established = map[netip.Addr]map[string]bool{}, map[netip.Addr]bool{}
	for p, a := range b.ads {
		a.uuid = nil
		b.ads[p] = a
	}
	b.mu.Unlock()
	b.notify()
	return nil
}

// Running reports since when GoBGP runs (zero: it does not).
func (b *BGP) Running() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.started
}

func (b *BGP) apiPeer(sp Speaker, p Peer) *api.Peer {
	family := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	local := sp.NodeIPv4
	if p.Address.Is6() {
		family.Afi = api.Family_AFI_IP6
		local = sp.NodeIPv6
	}
	restart := uint32(p.RestartTime / time.Second)
	if restart == 0 {
		restart = uint32(DefaultRestartTime / time.Second)
	}
	peer := &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.AS, LocalAsn: p.LocalAS, AuthPassword: p.Password, Description: p.Source},
		Transport: &api.Transport{RemotePort: uint32(p.Port), PassiveMode: p.Passive},
		// Retry soon after a failed connection, and accept a restarted
		// peer soon after its session dropped (GoBGP's defaults, 2 minutes
		// and 30 seconds, would outlast a peer's graceful restart).
		Timers:          &api.Timers{Config: &api.TimersConfig{ConnectRetry: connectRetrySeconds, IdleHoldTimeAfterReset: idleHoldSeconds}},
		GracefulRestart: &api.GracefulRestart{Enabled: true, RestartTime: restart, NotificationEnabled: true},
		AfiSafis: []*api.AfiSafi{{
			Config:            &api.AfiSafiConfig{Family: family, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}},
		}},
	}
	if local.IsValid() {
		peer.Transport.LocalAddress = local.Addr().String()
	}
	if p.RRClient {
		peer.RouteReflector = &api.RouteReflector{RouteReflectorClient: true, RouteReflectorClusterId: sp.RouterID.String()}
	}
	if p.AS != sp.AS && (p.LocalAS == 0 || p.LocalAS != p.AS) {
		peer.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: 255}
	}
	return peer
}

func (b *BGP) forgetPeer(a netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.eor, a)
	delete(b.established, a)
}

// Advertise makes GoBGP originate exactly ads, with next hop sp's node
// address of each prefix's family, and export nothing but exports.
func (b *BGP) Advertise(ctx context.Context, sp Speaker, ads map[netip.Prefix]Advertisement, exports []ExportRange) error {
	if !sp.Enabled() || b.Running().IsZero() {
		return nil
	}
	if err := b.setExports(ctx, exportState{ranges: exports, keepNextHop: keepNextHopPeers(sp)}); err != nil {
		return err
	}
	b.mu.Lock()
	current := make(map[netip.Prefix]advertised, len(b.ads))
	for k, v := range b.ads {
		current[k] = v
	}
	b.mu.Unlock()
	var errs []error
	for p, a := range current {
		if want, ok := ads[p]; ok && want.Equal(a.ad) && a.uuid != nil {
			continue
		}
		if a.uuid != nil {
			if err := b.s.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Uuid: a.uuid}); err != nil {
				errs = append(errs, fmt.Errorf("withdraw %s: %w", p, err))
				continue
			}
		}
		delete(current, p)
	}
	for p, a := range ads {
		if _, ok := current[p]; ok {
			continue
		}
		path, err := originate(sp, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if path == nil {
			continue // no node address of this family
		}
		resp, err := b.s.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path})
		if err != nil {
			errs = append(errs, fmt.Errorf("advertise %s: %w", p, err))
			continue
		}
		current[p] = advertised{ad: a, uuid: resp.Uuid}
	}
	b.mu.Lock()
	b.ads = current
	b.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("advertise: %w", errors.Join(errs...))
	}
	return nil
}

// originate builds the path GoBGP advertises for a.
func originate(sp Speaker, a Advertisement) (*api.Path, error) {
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	var nlri bgp.AddrPrefixInterface
	if a.Prefix.Addr().Is4() {
		if !sp.NodeIPv4.IsValid() {
			return nil, nil
		}
		nlri = bgp.NewIPAddrPrefix(uint8(a.Prefix.Bits()), a.Prefix.Addr().String())
		attrs = append(attrs, bgp.NewPathAttributeNextHop(sp.NodeIPv4.Addr().String()))
	} else {
		if !sp.NodeIPv6.IsValid() {
			return nil, nil
		}
		nlri = bgp.NewIPv6AddrPrefix(uint8(a.Prefix.Bits()), a.Prefix.Addr().String())
		attrs = append(attrs, bgp.NewPathAttributeMpReachNLRI(sp.NodeIPv6.Addr().String(), []bgp.AddrPrefixInterface{nlri}))
	}
	if len(a.Communities) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeCommunities(a.Communities))
	}
	if len(a.Large) > 0 {
		var lc []*bgp.LargeCommunity
		for _, c := range a.Large {
			lc = append(lc, bgp.NewLargeCommunity(c.Global, c.Local1, c.Local2))
		}
		attrs = append(attrs, bgp.NewPathAttributeLargeCommunities(lc))
	}
	path, err := apiutil.NewPath(nlri, false, attrs, time.Now())
	if err != nil {
		return nil, fmt.Errorf("advertise %s: %w", a.Prefix, err)
	}
	return path, nil
}

// watch follows best paths, peer states and End-of-RIBs.
func (b *BGP) watch(ctx context.Context) error {
	req := &api.WatchEventRequest{
		Peer: &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{
			{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true},
			{Type: api.WatchEventRequest_Table_Filter_EOR, Init: true},
		}},
	}
	err := b.s.WatchEvent(ctx, req, func(r *api.WatchEventResponse) {
		if p := r.GetPeer(); p != nil {
			b.peerEvent(p)
		}
		if t := r.GetTable(); t != nil {
			b.tableEvent(t.Paths)
		}
	})
	if err != nil {
		return fmt.Errorf("watch BGP events: %w", err)
	}
	return nil
}

func (b *BGP) peerEvent(ev *api.WatchEventResponse_PeerEvent) {
	if ev.Type != api.WatchEventResponse_PeerEvent_STATE || ev.Peer == nil || ev.Peer.State == nil {
		return
	}
	addr, err := netip.ParseAddr(ev.Peer.State.NeighborAddress)
	if err != nil {
		return
	}
	up := ev.Peer.State.SessionState == api.PeerState_ESTABLISHED
	b.mu.Lock()
	was := b.established[addr]
	b.established[addr] = up
	if !up {
		delete(b.eor, addr)
	}
	b.mu.Unlock()
	if was != up {
		b.log.WithFields(logrus.Fields{"peer": addr, "established": up}).Info("BGP session state")
		b.notify()
	}
}

// tableEvent applies best-path changes. With multipath, GoBGP sends each
// changed destination's full set of best paths; a withdrawal alone means
// no path is left.
func (b *BGP) tableEvent(paths []*api.Path) {
	type dest struct {
		hops      map[netip.Addr]bool
		withdrawn bool
	}
	changed := map[netip.Prefix]*dest{}
	for _, p := range paths {
		if isEOR(p) {
			if peer, err := netip.ParseAddr(p.NeighborIp); err == nil {
				b.mu.Lock()
				if b.eor[peer] == nil {
					b.eor[peer] = map[string]bool{}
				}
				b.eor[peer][p.Family.String()] = true
				b.mu.Unlock()
				b.notify()
			}
			continue
		}
		nlri, err := apiutil.GetNativeNlri(p)
		if err != nil || nlri == nil {
			continue
		}
		prefix, err := netip.ParsePrefix(nlri.String())
		if err != nil {
			continue
		}
		d := changed[prefix]
		if d == nil {
			d = &dest{hops: map[netip.Addr]bool{}}
			changed[prefix] = d
		}
		if p.IsWithdraw {
			d.withdrawn = true
			continue
		}
		if _, err := netip.ParseAddr(p.NeighborIp); err != nil {
			continue // our own path: nothing to install
		}
		if nh, ok := nextHop(p); ok {
			d.hops[nh] = true
		}
	}
	if len(changed) == 0 {
		return
	}
	b.mu.Lock()
	for prefix, d := range changed {
		if len(d.hops) == 0 {
			delete(b.learned, prefix)
		} else {
			b.learned[prefix] = d.hops
		}
	}
	b.mu.Unlock()
	b.notify()
}

// isEOR recognises GoBGP's End-of-RIB event: a path with a family and a
// source but neither NLRI nor attributes.
func isEOR(p *api.Path) bool {
	return p.Nlri == nil && len(p.Pattrs) == 0 && !p.IsWithdraw && p.NeighborIp != "" && p.Family != nil
}

func nextHop(p *api.Path) (netip.Addr, bool) {
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgp.PathAttributeNextHop:
			if nh, ok := netip.AddrFromSlice(a.Value); ok {
				return nh.Unmap(), true
			}
		case *bgp.PathAttributeMpReachNLRI:
			if nh, ok := netip.AddrFromSlice(a.Nexthop); ok {
				return nh.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// PeersSynced reports whether every configured peer is established and
// has sent its End-of-RIB: the learned routes are then complete.
func (b *BGP) PeersSynced() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.running.Peers {
		if !b.established[k.Address] || len(b.eor[k.Address]) == 0 {
			return false
		}
	}
	return true
}

// PeerStatus is one session in /status.
type PeerStatus struct {
	Peer        string `json:"peer"`
	AS          uint32 `json:"as"`
	Source      string `json:"source"`
	Established bool   `json:"established"`
	EndOfRIB    bool   `json:"endOfRib"`
}

// Status lists the sessions.
func (b *BGP) Status() []PeerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]PeerStatus, 0, len(b.running.Peers))
	for k, p := range b.running.Peers {
		out = append(out, PeerStatus{Peer: k.String(), AS: p.AS, Source: p.Source, Established: b.established[k.Address], EndOfRIB: len(b.eor[k.Address]) > 0})
	}
	slices.SortFunc(out, func(a, b PeerStatus) int {
		if a.Peer < b.Peer {
			return -1
		}
		if a.Peer > b.Peer {
			return 1
		}
		return 0
	})
	return out
}

// gobgpLogger sends GoBGP's logs to logrus, at its own level
// (BGPConfiguration's logSeverityScreen) whatever the agent's. Fatal does
// not exit: GoBGP uses it for failures the agent reports itself.
type gobgpLogger struct {
	log   *logrus.Entry
	mu    sync.Mutex
	level bgplog.LogLevel
}

func newGoBGPLogger(log *logrus.Entry) *gobgpLogger {
	return &gobgpLogger{log: log, level: bgplog.InfoLevel}
}

func (l *gobgpLogger) emit(level bgplog.LogLevel, msg string, f bgplog.Fields) {
	if level > l.GetLevel() {
		return
	}
	e := l.log.WithFields(logrus.Fields(f))
	switch level {
	case bgplog.PanicLevel, bgplog.FatalLevel, bgplog.ErrorLevel:
		e.Error(msg)
	case bgplog.WarnLevel:
		e.Warn(msg)
	case bgplog.InfoLevel:
		e.Info(msg)
	default:
		e.Debug(msg)
	}
}

func (l *gobgpLogger) Panic(msg string, f bgplog.Fields) { l.emit(bgplog.PanicLevel, msg, f) }
func (l *gobgpLogger) Fatal(msg string, f bgplog.Fields) { l.emit(bgplog.FatalLevel, msg, f) }
func (l *gobgpLogger) Error(msg string, f bgplog.Fields) { l.emit(bgplog.ErrorLevel, msg, f) }
func (l *gobgpLogger) Warn(msg string, f bgplog.Fields)  { l.emit(bgplog.WarnLevel, msg, f) }
func (l *gobgpLogger) Info(msg string, f bgplog.Fields)  { l.emit(bgplog.InfoLevel, msg, f) }
func (l *gobgpLogger) Debug(msg string, f bgplog.Fields) { l.emit(bgplog.DebugLevel, msg, f) }

func (l *gobgpLogger) SetLevel(level bgplog.LogLevel) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.level = level
}

func (l *gobgpLogger) GetLevel() bgplog.LogLevel {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.level
}
