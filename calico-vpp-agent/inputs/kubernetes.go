package inputs

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Input names, as registered with the reconciler.
const (
	InputServices       = "kubernetes-services"
	InputEndpointSlices = "kubernetes-endpointslices"
	InputNodes          = "kubernetes-nodes"
	InputCalico         = "calico"
)

// Kubernetes owns the agent's client-go informers. Managers add their
// event handlers before Run.
type Kubernetes struct {
	synced   atomic.Int32
	factory  informers.SharedInformerFactory
	services cache.SharedIndexInformer
	slices   cache.SharedIndexInformer
	nodes    cache.SharedIndexInformer
	onSynced func(input string)
	log      *logrus.Entry
}

// NewKubernetes builds the informers. onSynced is called with each
// input's name once its cache is filled.
func NewKubernetes(client kubernetes.Interface, resync time.Duration, onSynced func(string), log *logrus.Entry) *Kubernetes {
	f := informers.NewSharedInformerFactory(client, resync)
	return &Kubernetes{
		factory:  f,
		services: f.Core().V1().Services().Informer(),
		slices:   f.Discovery().V1().EndpointSlices().Informer(),
		nodes:    f.Core().V1().Nodes().Informer(),
		onSynced: onSynced,
		log:      log,
	}
}

// Services is the Service informer.
func (k *Kubernetes) Services() cache.SharedIndexInformer { return k.services }

// EndpointSlices is the EndpointSlice informer.
func (k *Kubernetes) EndpointSlices() cache.SharedIndexInformer { return k.slices }

// Nodes is the Node informer.
func (k *Kubernetes) Nodes() cache.SharedIndexInformer { return k.nodes }

// Run starts the informers, reports each synced, and stops them when ctx
// ends.
func (k *Kubernetes) Run(ctx context.Context) error {
	k.factory.Start(ctx.Done())
	defer k.factory.Shutdown()
	for _, in := range []struct {
		name string
		inf  cache.SharedIndexInformer
	}{{InputServices, k.services}, {InputEndpointSlices, k.slices}, {InputNodes, k.nodes}} {
		if !cache.WaitForCacheSync(ctx.Done(), in.inf.HasSynced) {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: cache did not sync", in.name)
		}
		k.log.WithField("input", in.name).Info("synced")
		k.synced.Add(1)
		if k.onSynced != nil {
			k.onSynced(in.name)
		}
	}
	<-ctx.Done()
	return nil
}

// Name implements the agent's Component.
func (k *Kubernetes) Name() string { return "kubernetes" }

// Synced reports whether every informer has synced.
func (k *Kubernetes) Synced() bool { return k.synced.Load() == 3 }

// Status counts the objects each informer holds.
func (k *Kubernetes) Status() any {
	return map[string]int{
		"services": len(k.services.GetStore().ListKeys()), "endpointSlices": len(k.slices.GetStore().ListKeys()),
		"nodes": len(k.nodes.GetStore().ListKeys()),
	}
}
