// Package metrics exports the agent's Prometheus metrics: VPP's
// per-interface counters (labelled with the pod they belong to) and the
// reconciler's work.
package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"

	"github.com/calico-vpp/calico-vpp/pkg/reconcile"
	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

// PodOf names the pod an interface belongs to ("" when none).
type PodOf func(vpplink.SwIfIndex) (namespace, name string)

// Metrics is the agent's registry. It implements reconcile.Metrics.
type Metrics struct {
	registry *prometheus.Registry
	syncs    *prometheus.HistogramVec
	calls    *prometheus.CounterVec
	objects  *prometheus.GaugeVec
}

var _ reconcile.Metrics = (*Metrics)(nil)

// New builds the registry. counters reads VPP's interface counters at
// scrape time (nil: none exported); podOf labels pod interfaces.
// Scrapes read VPP under base (the agent's context).
func New(base context.Context, counters func(context.Context) ([]vpplink.InterfaceCounters, error), podOf PodOf, log *logrus.Entry) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		syncs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "calicovpp_reconcile_sync_duration_seconds", Help: "Duration of reconciliation passes.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"result"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "calicovpp_vpp_api_calls_total", Help: "VPP API calls made by the reconciler.",
		}, []string{"kind", "op"}),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "calicovpp_reconcile_objects", Help: "Objects per kind and state (desired, applied, failed).",
		}, []string{"kind", "state"}),
	}
	m.registry.MustRegister(m.syncs, m.calls, m.objects, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if counters != nil {
		m.registry.MustRegister(&interfaceCollector{base: base, read: counters, podOf: podOf, log: log})
	}
	return m
}

// SyncDone implements reconcile.Metrics.
func (m *Metrics) SyncDone(d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.syncs.WithLabelValues(result).Observe(d.Seconds())
}

// Calls implements reconcile.Metrics.
func (m *Metrics) Calls(kind, op string, n int) { m.calls.WithLabelValues(kind, op).Add(float64(n)) }

// Objects implements reconcile.Metrics.
func (m *Metrics) Objects(kind string, desired, applied, failed int) {
	m.objects.WithLabelValues(kind, "desired").Set(float64(desired))
	m.objects.WithLabelValues(kind, "applied").Set(float64(applied))
	m.objects.WithLabelValues(kind, "failed").Set(float64(failed))
}

// Handler serves the registry in Prometheus's format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Serve exposes /metrics on addr until ctx ends.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics endpoint on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	var serving errgroup.Group // the Serve goroutine, ended by Shutdown below
	serving.Go(func() error { errc <- srv.Serve(ln); return nil })
	defer func() { _ = serving.Wait() }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics endpoint: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	<-errc
	return nil
}

var (
	descRxPackets = prometheus.NewDesc("calicovpp_interface_rx_packets_total", "Packets received by a VPP interface.", ifLabels, nil)
	descRxBytes   = prometheus.NewDesc("calicovpp_interface_rx_bytes_total", "Bytes received by a VPP interface.", ifLabels, nil)
	descTxPackets = prometheus.NewDesc("calicovpp_interface_tx_packets_total", "Packets sent by a VPP interface.", ifLabels, nil)
	descTxBytes   = prometheus.NewDesc("calicovpp_interface_tx_bytes_total", "Bytes sent by a VPP interface.", ifLabels, nil)
	descDrops     = prometheus.NewDesc("calicovpp_interface_drops_total", "Packets dropped on a VPP interface.", ifLabels, nil)
	ifLabels      = []string{"interface", "sw_if_index", "pod_namespace", "pod_name"}
)

// interfaceCollector reads VPP's counters at each scrape.
type interfaceCollector struct {
	base  context.Context
	read  func(context.Context) ([]vpplink.InterfaceCounters, error)
	podOf PodOf
	log   *logrus.Entry
}

func (c *interfaceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRxPackets, descRxBytes, descTxPackets, descTxBytes, descDrops} {
		ch <- d
	}
}

func (c *interfaceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(c.base, 5*time.Second)
	defer cancel()
	counters, err := c.read(ctx)
	if err != nil {
		c.log.WithError(err).Debug("no interface counters for this scrape")
		return
	}
	for _, ic := range counters {
		ns, name := "", ""
		if c.podOf != nil {
			ns, name = c.podOf(ic.SwIfIndex)
		}
		labels := []string{ic.Name, fmt.Sprint(uint32(ic.SwIfIndex)), ns, name}
		for _, v := range []struct {
			d *prometheus.Desc
			n uint64
		}{{descRxPackets, ic.RxPackets}, {descRxBytes, ic.RxBytes}, {descTxPackets, ic.TxPackets}, {descTxBytes, ic.TxBytes}, {descDrops, ic.Drops}} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.n), labels...)
		}
	}
}
