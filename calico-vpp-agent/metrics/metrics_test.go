package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/calico-vpp/calico-vpp/pkg/vpplink"
)

func TestExposition(t *testing.T) {
	l := logrus.New()
	l.SetOutput(io.Discard)
	counters := func(context.Context) ([]vpplink.InterfaceCounters, error) {
		return []vpplink.InterfaceCounters{
			{SwIfIndex: 1, Name: "host-eth0", RxPackets: 10, TxBytes: 500},
			{SwIfIndex: 3, Name: "tun0", RxPackets: 7},
		}, nil
	}
	podOf := func(idx vpplink.SwIfIndex) (string, string) {
		if idx == 3 {
			return "default", "web-1"
		}
		return "", ""
	}
	m := New(context.Background(), counters, podOf, l.WithField("c", "m"))
	m.SyncDone(20*time.Millisecond, nil)
	m.SyncDone(time.Millisecond, errors.New("x"))
	m.Calls("routes", "create", 3)
	m.Objects("routes", 5, 4, 1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`calicovpp_interface_rx_packets_total{interface="host-eth0",pod_name="",pod_namespace="",sw_if_index="1"} 10`,
		`calicovpp_interface_tx_bytes_total{interface="host-eth0",pod_name="",pod_namespace="",sw_if_index="1"} 500`,
		`calicovpp_interface_rx_packets_total{interface="tun0",pod_name="web-1",pod_namespace="default",sw_if_index="3"} 7`,
		`calicovpp_vpp_api_calls_total{kind="routes",op="create"} 3`,
		`calicovpp_reconcile_objects{kind="routes",state="failed"} 1`,
		`calicovpp_reconcile_sync_duration_seconds_count{result="error"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
