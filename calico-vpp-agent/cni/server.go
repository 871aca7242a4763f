package cni

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sync"

	"github.com/projectcalico/calico/cni-plugin/pkg/dataplane/grpc/proto"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/calico-vpp/calico-vpp/pkg/config"
)

// Dataplane wires pods into VPP and the pod's namespace. The server owns
// the protocol, validation, persistence and per-pod ordering; the
// dataplane only acts.
type Dataplane interface {
	// AddPod wires pod; it is called again with the same pod when kubelet
	// retries, and must then change nothing. On error it leaves nothing
	// behind.
	AddPod(ctx context.Context, pod Pod) error
	// DelPod unwires pod; what is already gone (the netns included) is
	// not an error.
	DelPod(ctx context.Context, pod Pod) error
}

// Resolver is implemented by dataplanes that fix, at ADD, choices the
// pod's record must keep across restarts (link kind, MTU).
type Resolver interface {
	Resolve(Pod) Pod
}

// Server answers Calico's gRPC dataplane protocol (the CniDataplane
// service) for the CNI plugin.
type Server struct {
	proto.UnimplementedCniDataplaneServer
	ifs   *config.Interfaces
	store *Store
	dp    Dataplane
	log   *logrus.Entry
	locks keyLocks
}

// NewServer returns a server recording pods in store.
func NewServer(ifs *config.Interfaces, store *Store, dp Dataplane, log *logrus.Entry) *Server {
	return &Server{ifs: ifs, store: store, dp: dp, log: log, locks: keyLocks{held: map[Key]*keyLock{}}}
}

// Add wires a pod. Failures are replies with Successful false and a
// message naming the problem, which Calico's plugin returns to kubelet.
func (s *Server) Add(ctx context.Context, req *proto.AddRequest) (*proto.AddReply, error) {
	pod, err := ParseAdd(req, s.ifs)
	if err != nil {
		s.log.WithError(err).Warn("rejected ADD")
		return &proto.AddReply{ErrorMessage: err.Error()}, nil
	}
	if r, ok := s.dp.(Resolver); ok {
		pod = r.Resolve(pod)
	}
	log := s.log.WithFields(logrus.Fields{"pod": pod.Workload.Namespace + "/" + pod.Workload.Pod, "netns": pod.Netns, "interface": pod.InterfaceName})
	unlock := s.locks.lock(pod.Key)
	defer unlock()

	if err := s.addressesFree(pod); err != nil {
		log.WithError(err).Warn("rejected ADD")
		return &proto.AddReply{ErrorMessage: err.Error()}, nil
	}
	if prev, ok := s.store.Get(pod.Key); ok && !reflect.DeepEqual(prev, pod) {
		// The same interface asked for again, differently: the old wiring
		// goes first, so nothing of it lingers.
		log.Info("ADD replaces a different earlier ADD of the same interface")
		if err := s.dp.DelPod(ctx, prev); err != nil {
			return &proto.AddReply{ErrorMessage: fmt.Sprintf("remove the earlier wiring of %s: %v", pod.Key, err)}, nil
		}
		if _, _, err := s.store.Delete(prev.Key); err != nil {
			return &proto.AddReply{ErrorMessage: err.Error()}, nil
		}
	}
	// Recorded first: if the agent dies half-way, its restart knows the
	// pod and either finishes or removes it.
	if err := s.store.Put(pod); err != nil {
		return &proto.AddReply{ErrorMessage: err.Error()}, nil
	}
	if err := s.dp.AddPod(ctx, pod); err != nil {
		err = fmt.Errorf("wire pod %s: %w", pod.Key, err)
		log.WithError(err).Warn("ADD failed")
		if _, _, serr := s.store.Delete(pod.Key); serr != nil {
			err = errors.Join(err, serr)
		}
		return &proto.AddReply{ErrorMessage: err.Error()}, nil
	}
	log.WithField("addresses", pod.Addresses).Info("pod wired")
	return &proto.AddReply{Successful: true, HostInterfaceName: pod.HostInterfaceName, ContainerMac: ContainerMAC(pod.Key).String()}, nil
}

// addressesFree refuses an address another pod interface has: VPP's host
// route would silently move to the newcomer.
func (s *Server) addressesFree(pod Pod) error {
	for _, other := range s.store.List() {
		if other.Key == pod.Key {
			continue
		}
		for _, a := range pod.Addresses {
			for _, b := range other.Addresses {
				if a.Addr() == b.Addr() {
					return fmt.Errorf("container_ips: %s is already the address of pod %s/%s (netns %s)",
						a.Addr(), other.Workload.Namespace, other.Workload.Pod, other.Netns)
				}
			}
		}
	}
	return nil
}

// Del unwires a pod; deleting an unknown pod succeeds.
func (s *Server) Del(ctx context.Context, req *proto.DelRequest) (*proto.DelReply, error) {
	key, err := ParseDel(req)
	if err != nil {
		s.log.WithError(err).Warn("rejected DEL")
		return &proto.DelReply{ErrorMessage: err.Error()}, nil
	}
	unlock := s.locks.lock(key)
	defer unlock()
	pod, ok := s.store.Get(key)
	if !ok {
		s.log.WithField("key", key).Debug("DEL of an unknown pod: nothing to do")
		return &proto.DelReply{Successful: true}, nil
	}
	// The record stays until the dataplane is clean, so a failed DEL is
	// retried by kubelet (or finished by a restarted agent).
	if err := s.dp.DelPod(ctx, pod); err != nil {
		return &proto.DelReply{ErrorMessage: fmt.Sprintf("unwire pod %s: %v", key, err)}, nil
	}
	if _, _, err := s.store.Delete(key); err != nil {
		return &proto.DelReply{ErrorMessage: err.Error()}, nil
	}
	s.log.WithFields(logrus.Fields{"pod": pod.Workload.Namespace + "/" + pod.Workload.Pod, "netns": key.Netns}).Info("pod unwired")
	return &proto.DelReply{Successful: true}, nil
}

// Serve answers on the Unix socket path until ctx ends. A socket left by
// an earlier agent is replaced; the socket is reachable by root only.
func (s *Server) Serve(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("CNI server socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale CNI server socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("CNI server on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("CNI server socket %s: %w", path, err)
	}
	srv := grpc.NewServer()
	proto.RegisterCniDataplaneServer(srv, s)
	errc := make(chan error, 1)
	var serving errgroup.Group // the Serve goroutine, ended by GracefulStop below
	serving.Go(func() error { errc <- srv.Serve(ln); return nil })
	s.log.WithField("socket", path).Info("CNI server listening")
	select {
	case err := <-errc:
		_ = serving.Wait()
		return fmt.Errorf("CNI server: %w", err)
	case <-ctx.Done():
	}
	srv.GracefulStop() // requests in flight finish: a pod is never half-wired by our exit
	_ = serving.Wait()
	return nil
}

// ContainerMAC is the MAC reported for the pod's interface: a tun has
// none, yet Calico records one (and its client parses it), so each pod
// gets a stable, locally administered, unicast address of its own.
func ContainerMAC(k Key) net.HardwareAddr {
	sum := sha256.Sum256([]byte(k.String()))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// keyLocks serializes requests per pod interface: a DEL racing an ADD of
// the same pod runs after it, never interleaved.
type keyLocks struct {
	mu   sync.Mutex
	held map[Key]*keyLock
}

type keyLock struct {
	mu    sync.Mutex
	users int
}

func (l *keyLocks) lock(k Key) (unlock func()) {
	l.mu.Lock()
	e := l.held[k]
	if e == nil {
		e = &keyLock{}
		l.held[k] = e
	}
	e.users++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.held, k)
		}
		l.mu.Unlock()
	}
}
