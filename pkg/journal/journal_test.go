package journal

import (
	"os"
	"path/filepath"
	"testing"
)

func TestJournalPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "routes.json")
	j, err := Open(path)
	if err != nil || j.Len() != 0 {
		t.Fatalf("open empty: %v, %d keys", err, j.Len())
	}
	j.Add("0/198.18.1.0/24")
	j.Add("0/198.18.2.0/24")
	j.Remove("0/198.18.2.0/24")
	if _, err := os.Stat(path); err == nil {
		t.Fatal("written before Flush")
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path)
	if err != nil || !again.Has("0/198.18.1.0/24") || again.Has("0/198.18.2.0/24") || again.Len() != 1 {
		t.Fatalf("reopened: %v, %d keys", err, again.Len())
	}
	for _, bad := range []string{"{", `{"version":2,"keys":[]}`} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}
