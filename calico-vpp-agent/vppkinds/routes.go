// Package vppkinds are the reconciler's kinds of VPP objects: how to dump
// the agent's own objects of a kind, and create, update and delete them.
package vppkinds

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

// VPPGetter returns the current VPP connection (vppconn.Holder).
type VPPGetter interface {
	Get() (*vpplink.VPP, error)
}

// RouteKey identifies a route: its table and prefix.
type RouteKey struct {
	Table  uint32
	Prefix netip.Prefix
}

func (k RouteKey) String() string {
	return strconv.FormatUint(uint64(k.Table), 10) + "/" + k.Prefix.String()
}

// ParseRouteKey reverses RouteKey.String.
func ParseRouteKey(s string) (RouteKey, error) {
	table, prefix, ok := strings.Cut(s, "/")
	if !ok {
		return RouteKey{}, fmt.Errorf("route key %q", s)
	}
	t, err := strconv.ParseUint(table, 10, 32)
	if err != nil {
		return RouteKey{}, fmt.Errorf("route key %q: %w", s, err)
	}
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		return RouteKey{}, fmt.Errorf("route key %q: %w", s, err)
	}
	return RouteKey{Table: uint32(t), Prefix: p}, nil
}

// Routes is the route kind. Routes carry no tag, so ownership is the
// journal: only routes recorded there are dumped, hence ever deleted.
type Routes struct {
	vpp     VPPGetter
	journal *journal.Journal
}

var (
	_ reconcile.Kind[RouteKey, vpplink.Route] = (*Routes)(nil)
	_ reconcile.Flusher                       = (*Routes)(nil)
)

// NewRoutes returns the kind.
func NewRoutes(v VPPGetter, j *journal.Journal) *Routes { return &Routes{vpp: v, journal: j} }

// Name implements reconcile.Kind.
func (r *Routes) Name() string { return "routes" }

// Phase implements reconcile.Kind.
func (r *Routes) Phase() reconcile.Phase { return reconcile.PhaseRoutes }

// Dump returns the journal's routes that VPP has, and forgets the ones VPP
// no longer has (after a VPP restart): a route someone else creates later
// under the same key must not look like ours.
func (r *Routes) Dump(ctx context.Context) (map[RouteKey]vpplink.Route, error) {
	v, err := r.vpp.Get()
	if err != nil {
		return nil, err
	}
	tables, err := v.Tables(ctx)
	if err != nil {
		return nil, err
	}
	out := map[RouteKey]vpplink.Route{}
	seen := map[string]bool{}
	for _, t := range tables {
		routes, err := v.Routes(ctx, t)
		if err != nil {
			return nil, err
		}
		for _, rt := range routes {
			k := RouteKey{Table: rt.Table, Prefix: rt.Prefix}
			if r.journal.Has(k.String()) {
				out[k] = rt
				seen[k.String()] = true
			}
		}
	}
	for _, k := range r.journal.Keys() {
		if !seen[k] {
			r.journal.Remove(k)
		}
	}
	return out, nil
}

// Create implements reconcile.Kind.
func (r *Routes) Create(ctx context.Context, k RouteKey, rt vpplink.Route) (vpplink.Route, error) {
	v, err := r.vpp.Get()
	if err != nil {
		return vpplink.Route{}, err
	}
	rt.Table, rt.Prefix = k.Table, k.Prefix
	if err := v.AddRoute(ctx, rt); err != nil {
		return vpplink.Route{}, err
	}
	r.journal.Add(k.String())
	return rt, nil
}

// Update replaces the route's paths.
func (r *Routes) Update(ctx context.Context, k RouteKey, desired, _ vpplink.Route) (vpplink.Route, error) {
	return r.Create(ctx, k, desired)
}

// Delete implements reconcile.Kind.
func (r *Routes) Delete(ctx context.Context, k RouteKey, _ vpplink.Route) error {
	v, err := r.vpp.Get()
	if err != nil {
		return err
	}
	if err := v.DelRoute(ctx, vpplink.Route{Table: k.Table, Prefix: k.Prefix}); err != nil {
		return err
	}
	r.journal.Remove(k.String())
	return nil
}

// Equal compares paths as VPP reports them (sorted, weight 0 = 1, no
// interface = ~0).
func (r *Routes) Equal(desired, actual vpplink.Route) bool {
	return slices.Equal(normalize(desired.Paths), normalize(actual.Paths))
}

// Flush persists the journal.
func (r *Routes) Flush(context.Context) error { return r.journal.Flush() }

func normalize(paths []vpplink.RoutePath) []vpplink.RoutePath {
	out := make([]vpplink.RoutePath, len(paths))
	for i, p := range paths {
		if p.Weight == 0 {
			p.Weight = 1
		}
		if p.SwIfIndex == 0 {
			p.SwIfIndex = vpplink.InvalidSwIfIndex
		}
		if p.Type != vpplink.PathLookup {
			p.Table = 0
		}
		out[i] = p
	}
	slices.SortFunc(out, func(a, b vpplink.RoutePath) int {
		if c := a.Gateway.Compare(b.Gateway); c != 0 {
			return c
		}
		return int(a.SwIfIndex) - int(b.SwIfIndex)
	})
	return out
}

var _ reconcile.BatchKind[RouteKey, vpplink.Route] = (*Routes)(nil)

// CreateBatch adds routes pipelined (VPP's bulk path).
func (r *Routes) CreateBatch(ctx context.Context, keys []RouteKey, routes []vpplink.Route) ([]vpplink.Route, []error) {
	errs := make([]error, len(keys))
	v, err := r.vpp.Get()
	if err != nil {
		return make([]vpplink.Route, len(keys)), fill(errs, fmt.Errorf("%w: %v", reconcile.ErrUnavailable, err))
	}
	out := make([]vpplink.Route, len(keys))
	for i, k := range keys {
		out[i] = routes[i]
		out[i].Table, out[i].Prefix = k.Table, k.Prefix
		// Recorded before VPP has them: should the call break half-way,
		// what VPP did apply is still ours (a dump forgets the rest).
		r.journal.Add(k.String())
	}
	if err := r.journal.Flush(); err != nil {
		return out, fill(errs, fmt.Errorf("record routes: %w", err))
	}
	itemErrs(v.AddRoutes(ctx, out), errs)
	for i, k := range keys {
		if errs[i] != nil && !errors.Is(errs[i], reconcile.ErrUnavailable) {
			r.journal.Remove(k.String()) // refused by VPP: not there
		}
	}
	return out, errs
}

// DeleteBatch deletes routes pipelined.
func (r *Routes) DeleteBatch(ctx context.Context, keys []RouteKey, _ []vpplink.Route) []error {
	errs := make([]error, len(keys))
	v, err := r.vpp.Get()
	if err != nil {
		return fill(errs, fmt.Errorf("%w: %v", reconcile.ErrUnavailable, err))
	}
	routes := make([]vpplink.Route, len(keys))
	for i, k := range keys {
		routes[i] = vpplink.Route{Table: k.Table, Prefix: k.Prefix}
	}
	itemErrs(v.DelRoutes(ctx, routes), errs)
	for i, k := range keys {
		if errs[i] == nil {
			r.journal.Remove(k.String())
		}
	}
	return errs
}

// itemErrs spreads a bulk call's error over its items: a *BulkError names
// the failed ones; any other error (the connection) fails them all.
func itemErrs(err error, errs []error) {
	if err == nil {
		return
	}
	var bulk *vpplink.BulkError
	if errors.As(err, &bulk) {
		for _, f := range bulk.Failed {
			errs[f.Index] = f.Err
		}
		return
	}
	fill(errs, fmt.Errorf("%w: %v", reconcile.ErrUnavailable, err))
}

func fill(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}
