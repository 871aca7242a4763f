package services

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/calico-vpp/calico-vpp/calico-vpp-agent/vppkinds"
	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

// TranslationKind is the reconciler kind of cnat translations.
// Translations carry no tag, so ownership is a persisted journal of the
// keys created: only those are ever updated or deleted.
type TranslationKind struct {
	vpp     vppkinds.VPPGetter
	journal *journal.Journal
}

var (
	_ reconcile.Kind[Key, vpplink.Translation] = (*TranslationKind)(nil)
	_ reconcile.Flusher                        = (*TranslationKind)(nil)
)

// NewTranslationKind returns the kind.
func NewTranslationKind(v vppkinds.VPPGetter, j *journal.Journal) *TranslationKind {
	return &TranslationKind{vpp: v, journal: j}
}

func (k *TranslationKind) get() (*vpplink.VPP, error) {
	v, err := k.vpp.Get()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", reconcile.ErrUnavailable, err)
	}
	return v, nil
}

// Name implements reconcile.Kind.
func (k *TranslationKind) Name() string { return "service-translations" }

// Phase implements reconcile.Kind.
func (k *TranslationKind) Phase() reconcile.Phase { return reconcile.PhaseCnat }

func keyOf(t vpplink.Translation) Key {
	return Key{Proto: t.Proto, VIP: netip.AddrPortFrom(t.VIP.Addr, t.VIP.Port)}
}

// Dump returns the journal's translations VPP has; the journal forgets the
// others (gone with a VPP restart).
func (k *TranslationKind) Dump(ctx context.Context) (map[Key]vpplink.Translation, error) {
	v, err := k.get()
	if err != nil {
		return nil, err
	}
	all, err := v.Translations(ctx)
	if err != nil {
		return nil, err
	}
	out := map[Key]vpplink.Translation{}
	for _, t := range all {
		if key := keyOf(t); k.journal.Has(key.String()) {
			out[key] = t
		}
	}
	for _, s := range k.journal.Keys() {
		if key, err := ParseKey(s); err != nil || !hasKey(out, key) {
			k.journal.Remove(s)
		}
	}
	return out, nil
}

func hasKey(m map[Key]vpplink.Translation, k Key) bool { _, ok := m[k]; return ok }

// Create adds the translation. The key is journaled before the call: an
// agent dying right after it still owns the translation.
func (k *TranslationKind) Create(ctx context.Context, key Key, t vpplink.Translation) (vpplink.Translation, error) {
	v, err := k.get()
	if err != nil {
		return vpplink.Translation{}, err
	}
	k.journal.Add(key.String())
	if err := k.journal.Flush(); err != nil {
		return vpplink.Translation{}, fmt.Errorf("translation %s: record it: %w", key, err)
	}
	id, err := v.UpdateTranslation(ctx, t)
	if err != nil {
		k.journal.Remove(key.String())
		return vpplink.Translation{}, fmt.Errorf("create translation %s: %w", key, err)
	}
	t.ID = id
	return t, nil
}

// Update replaces the backends in place (cnat keeps the ID), except for a
// change of load-balancing algorithm, which VPP only takes at creation.
func (k *TranslationKind) Update(ctx context.Context, key Key, desired, actual vpplink.Translation) (vpplink.Translation, error) {
	v, err := k.get()
	if err != nil {
		return actual, err
	}
	if desired.LBType != actual.LBType {
		if err := k.Delete(ctx, key, actual); err != nil {
			return actual, err
		}
		return k.Create(ctx, key, desired)
	}
	id, err := v.UpdateTranslation(ctx, desired)
	if err != nil {
		return actual, fmt.Errorf("update translation %s: %w", key, err)
	}
	desired.ID = id
	return desired, nil
}

// Delete removes the translation; one already gone is not an error.
func (k *TranslationKind) Delete(ctx context.Context, key Key, t vpplink.Translation) error {
	v, err := k.get()
	if err != nil {
		return err
	}
	if err := v.DelTranslation(ctx, t.ID); err != nil && !vpplink.IsRetval(err, vpplink.RetvalNoSuchEntry) {
		return fmt.Errorf("delete translation %s: %w", key, err)
	}
	k.journal.Remove(key.String())
	return nil
}

// Equal compares what dumps report: VIP, protocol, algorithm and backends
// (in any order). IsRealIP is not dumped; for a given address it never
// changes.
func (k *TranslationKind) Equal(desired, actual vpplink.Translation) bool {
	return desired.VIP == actual.VIP && desired.Proto == actual.Proto && desired.LBType == actual.LBType &&
		slices.Equal(sortedBackends(desired.Backends), sortedBackends(actual.Backends))
}

func sortedBackends(bs []vpplink.Backend) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		w := max(b.Weight, 1)
		out = append(out, fmt.Sprintf("%s<-%s/%d/%v", b.Dst, b.Src, w, b.NoNAT))
	}
	slices.Sort(out)
	return out
}

// Flush persists the journal.
func (k *TranslationKind) Flush(context.Context) error { return k.journal.Flush() }
