package cni

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func testPod(netns string) Pod {
	return Pod{
		Key:               Key{Netns: netns, InterfaceName: "eth0"},
		HostInterfaceName: "cali" + filepath.Base(netns),
		Addresses:         []netip.Prefix{netip.MustParsePrefix("198.18.100.2/32")},
		Routes:            []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
		Workload:          Workload{Namespace: "default", Pod: filepath.Base(netns)},
	}
}

func TestStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "pods.json")
	s, err := OpenStore(path)
	if err != nil || len(s.List()) != 0 {
		t.Fatalf("new store: %v, %v", s.List(), err)
	}
	a, b := testPod("/var/run/netns/b"), testPod("/var/run/netns/a")
	for _, p := range []Pod{a, b} {
		if err := s.Put(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, gone, err := s.Delete(Key{Netns: "/var/run/netns/unknown", InterfaceName: "eth0"}); err != nil || gone {
		t.Errorf("deleting an unknown pod = %v, %v; want a no-op", gone, err)
	}

	reopened, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := reopened.List(); !reflect.DeepEqual(got, []Pod{b, a}) {
		t.Errorf("after reopen: %+v, want both pods ordered by key", got)
	}
	if got, ok := reopened.Get(a.Key); !ok || !reflect.DeepEqual(got, a) {
		t.Errorf("Get = %+v, %v", got, ok)
	}
	if got, gone, err := reopened.Delete(a.Key); err != nil || !gone || !reflect.DeepEqual(got, a) {
		t.Fatalf("Delete = %+v, %v, %v", got, gone, err)
	}
	again, err := OpenStore(path)
	if err != nil || !reflect.DeepEqual(again.List(), []Pod{b}) {
		t.Errorf("after delete and reopen: %+v, %v", again.List(), err)
	}
}

func TestStoreRefusesWhatItCannotRead(t *testing.T) {
	cases := []struct{ name, content, wantErr string }{
		{"corrupt", `{"version": 1, "pods": [`, "decode pod store"},
		{"other version", `{"version": 2, "pods": []}`, "version 2, this agent reads version 1"},
		{"no version", `{"pods": []}`, "version 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pods.json")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenStore(path); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("OpenStore = %v, want %q", err, c.wantErr)
			}
		})
	}
}

// A change that cannot reach the disk is not kept in memory either.
func TestStoreWriteFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "pods.json")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	kept := testPod("/var/run/netns/kept")
	if err := s.Put(kept); err != nil {
		t.Fatal(err)
	}
	// Make writing impossible even for root: the state directory becomes
	// a regular file.
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(testPod("/var/run/netns/new")); err == nil || !strings.Contains(err.Error(), "record pod /var/run/netns/new:eth0") {
		t.Errorf("Put = %v, want a failure naming the pod", err)
	}
	if _, _, err := s.Delete(kept.Key); err == nil {
		t.Error("Delete succeeded without writing")
	}
	if got := s.List(); !reflect.DeepEqual(got, []Pod{kept}) {
		t.Errorf("after failed writes: %+v, want only %+v", got, kept)
	}
}
