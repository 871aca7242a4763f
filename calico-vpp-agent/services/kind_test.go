package services

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/calico-vpp/calico-vpp/pkg/journal"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
	"github.com/calico-vpp/calico-vpp/test/vpptest"
)

type fixedVPP struct{ v *vpplink.VPP }

func (f fixedVPP) Get() (*vpplink.VPP, error) { return f.v, nil }

func translation(vip string, backends ...string) vpplink.Translation {
	ap := netip.MustParseAddrPort(vip)
	t := vpplink.Translation{VIP: vpplink.Endpoint{Addr: ap.Addr(), Port: ap.Port()}, Proto: vpplink.ProtoTCP}
	for _, b := range backends {
		bp := netip.MustParseAddrPort(b)
		t.Backends = append(t.Backends, vpplink.Backend{Dst: vpplink.Endpoint{Addr: bp.Addr(), Port: bp.Port()}})
	}
	return t
}

// The kind against VPP (fakevpp, or VPP_BINARY): it creates, updates in
// place (same ID), dumps only what its journal owns, deletes, and a
// journal reopened after a restart still owns what it created.
func TestTranslationKind(t *testing.T) {
	ctx := context.Background()
	v := vpptest.New(t)
	path := filepath.Join(t.TempDir(), "translations.journal")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k := NewTranslationKind(fixedVPP{v}, j)

	// Someone else's translation: never dumped, never touched.
	foreignID, err := v.UpdateTranslation(ctx, translation("198.19.240.99:80", "198.19.1.9:80"))
	if err != nil {
		t.Fatal(err)
	}
	want := translation("198.19.240.10:80", "198.19.1.3:8080", "198.19.2.2:8080")
	key := keyOf(want)
	created, err := k.Create(ctx, key, want)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := k.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dump) != 1 || !k.Equal(want, dump[key]) || dump[key].ID != created.ID {
		t.Fatalf("dump = %+v, want only %+v (ID %d)", dump, want, created.ID)
	}

	fewer := translation("198.19.240.10:80", "198.19.2.2:8080")
	updated, err := k.Update(ctx, key, fewer, dump[key])
	if err != nil {
		t.Fatal(err)
	}
	if updated.ID != created.ID {
		t.Errorf("update changed the ID %d -> %d", created.ID, updated.ID)
	}
	if k.Equal(want, updated) || !k.Equal(fewer, updated) {
		t.Errorf("Equal does not see the backends: %+v", updated)
	}

	// An agent restart: the journal on disk still owns the translation.
	if err := k.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	j2, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k2 := NewTranslationKind(fixedVPP{v}, j2)
	dump, err = k2.Dump(ctx)
	if err != nil || len(dump) != 1 || !k2.Equal(fewer, dump[key]) {
		t.Fatalf("dump after reopening the journal = %+v, %v", dump, err)
	}
	if err := k2.Delete(ctx, key, dump[key]); err != nil {
		t.Fatal(err)
	}
	if err := k2.Delete(ctx, key, dump[key]); err != nil {
		t.Errorf("deleting what is gone: %v", err)
	}
	all, err := v.Translations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != foreignID {
		t.Errorf("VPP has %+v, want only the foreign translation %d", all, foreignID)
	}
}
