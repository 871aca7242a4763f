// Package journal persists the keys of VPP objects the agent created that
// VPP cannot tag (routes, cnat translations), so that after a restart the
// agent deletes what it made, and nothing else. Keys are recorded after
// VPP accepted the object and flushed in batches: a crash in between
// leaves an object unrecorded (never deleted by us), never a foreign one
// recorded.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/calico-vpp/calico-vpp/pkg/atomicfile"
)

// Journal is a persisted set of keys. It is safe for concurrent use.
type Journal struct {
	path  string
	mu    sync.Mutex
	keys  map[string]bool
	dirty bool
}

type file struct {
	Version int      `json:"version"`
	Keys    []string `json:"keys"`
}

const version = 1

// Open loads the journal at path (empty when the file does not exist).
func Open(path string) (*Journal, error) {
	j := &Journal{path: path, keys: map[string]bool{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode journal %s: %w", path, err)
	}
	if f.Version != version {
		return nil, fmt.Errorf("journal %s has version %d, want %d", path, f.Version, version)
	}
	for _, k := range f.Keys {
		j.keys[k] = true
	}
	return j, nil
}

// Add records a key (persisted at the next Flush).
func (j *Journal) Add(key string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.keys[key] {
		j.keys[key] = true
		j.dirty = true
	}
}

// Remove forgets a key.
func (j *Journal) Remove(key string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.keys[key] {
		delete(j.keys, key)
		j.dirty = true
	}
}

// Has reports whether key is recorded.
func (j *Journal) Has(key string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.keys[key]
}

// Keys returns the recorded keys.
func (j *Journal) Keys() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]string, 0, len(j.keys))
	for k := range j.keys {
		out = append(out, k)
	}
	return out
}

// Len is the number of keys.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.keys)
}

// Flush writes the journal atomically if it changed.
func (j *Journal) Flush() error {
	j.mu.Lock()
	if !j.dirty {
		j.mu.Unlock()
		return nil
	}
	keys := make([]string, 0, len(j.keys))
	for k := range j.keys {
		keys = append(keys, k)
	}
	j.dirty = false
	j.mu.Unlock()
	sort.Strings(keys)
	b, err := json.Marshal(file{Version: version, Keys: keys})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(j.path, b, 0o644); err != nil {
		j.mu.Lock()
		j.dirty = true
		j.mu.Unlock()
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	return nil
}
