package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"

	"github.com/calico-vpp/calico-vpp/pkg/atomicfile"
)

// storeVersion is the pod file's format. A file of another version is
// refused rather than guessed at: losing track of pods would leave their
// interfaces in VPP with nobody to delete them.
const storeVersion = 1

// StoreFile is the pod records' file name in the agent's state directory.
const StoreFile = "cni-pods.json"

type storeFile struct {
	Version int   `json:"version"`
	Pods    []Pod `json:"pods"`
}

// Store is the durable set of pods the agent was asked to wire: the CNI
// manager's input, so that a restarted agent rebuilds its desired state
// (and keeps the pods' interfaces) without kubelet asking again. Every
// change is on disk, atomically, before it is acknowledged.
type Store struct {
	path string
	mu   sync.Mutex
	pods map[Key]Pod
}

// OpenStore loads path; a missing file is an empty store.
func OpenStore(path string) (*Store, error) {
	s := &Store{path: path, pods: map[Key]Pod{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pod store: %w", err)
	}
	var f storeFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode pod store %s: %w", path, err)
	}
	if f.Version != storeVersion {
		return nil, fmt.Errorf("pod store %s: version %d, this agent reads version %d", path, f.Version, storeVersion)
	}
	for _, p := range f.Pods {
		s.pods[p.Key] = p
	}
	return s, nil
}

// Put records p (replacing the pod with the same key).
func (s *Store) Put(p Pod) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, had := s.pods[p.Key]
	s.pods[p.Key] = p
	if err := s.writeLocked(); err != nil {
		if had {
			s.pods[p.Key] = prev
		} else {
			delete(s.pods, p.Key)
		}
		return fmt.Errorf("record pod %s: %w", p.Key, err)
	}
	return nil
}

// Delete forgets the pod with key k and returns it; deleting an unknown
// pod is not an error (CNI DEL is idempotent).
func (s *Store) Delete(k Key) (Pod, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, had := s.pods[k]
	if !had {
		return Pod{}, false, nil
	}
	delete(s.pods, k)
	if err := s.writeLocked(); err != nil {
		s.pods[k] = p
		return Pod{}, false, fmt.Errorf("forget pod %s: %w", k, err)
	}
	return p, true, nil
}

// Get returns the pod with key k.
func (s *Store) Get(k Key) (Pod, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[k]
	return p, ok
}

// List returns every pod, ordered by key.
func (s *Store) List() []Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedLocked()
}

func (s *Store) sortedLocked() []Pod {
	out := make([]Pod, 0, len(s.pods))
	for _, p := range s.pods {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out
}

func (s *Store) writeLocked() error {
	b, err := json.MarshalIndent(storeFile{Version: storeVersion, Pods: s.sortedLocked()}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.path, b, 0o600)
}
