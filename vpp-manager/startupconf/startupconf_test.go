package startupconf

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/calico-vpp/calico-vpp/pkg/config"
	"github.com/calico-vpp/calico-vpp/test/fakevpp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const userTemplate = `unix {
  nodaemon
  cli-listen /var/run/vpp/cli.sock
  exec /etc/vpp/startup.exec
}
socksvr { socket-name /var/run/vpp/vpp-api.sock }
cpu { main-core __NODE_ANNOTATION:vpp/main-core__ }
# uplink __VPP_DATAPLANE_IF__ at __PCI_DEVICE_ID__, second __VPP_DATAPLANE_IF_1__
`

func TestRenderGolden(t *testing.T) {
	base := Params{
		Annotations: map[string]string{"vpp/main-core": "2"},
		RunDir:      "/var/run/vpp", APISocket: "/var/run/vpp/vpp-api.sock", StartupExec: "/etc/vpp/startup.exec",
	}
	uplinks := func(d config.Driver) []Uplink {
		return []Uplink{
			{Name: "eth0", Driver: d, PCI: "0000:00:04.0", NumRxQueues: 2, NumTxQueues: 2, RxQueueSize: 1024, TxQueueSize: 1024},
			{Name: "eth1", Driver: config.DriverAFPacket, PCI: "0000:00:05.0"},
		}
	}
	cases := []struct {
		name      string
		tmpl      string
		driver    config.Driver
		hugepages bool
	}{
		{"af_packet", userTemplate, config.DriverAFPacket, false},
		{"af_xdp", userTemplate, config.DriverAFXDP, false},
		{"dpdk", userTemplate, config.DriverDPDK, true},
		{"dpdk-no-hugepages", userTemplate, config.DriverDPDK, false},
		{"dpdk-existing-section", userTemplate + "dpdk {\n  uio-driver vfio-pci\n}\n", config.DriverDPDK, true},
		{"avf", userTemplate, config.DriverAVF, false},
		{"virtio", userTemplate, config.DriverVirtio, false},
		{"default-template", "", config.DriverAFPacket, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base
			p.Uplinks = uplinks(c.driver)
			p.Hugepages = c.hugepages
			got, err := Render(c.tmpl, p)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got != string(want) {
				t.Errorf("rendered:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	p := Params{Uplinks: []Uplink{{Name: "eth0"}}}
	cases := []struct{ tmpl, want string }{
		{"cpu { main-core __NODE_ANNOTATION:core__ }", `the node has no annotation "core"`},
		{"x __VPP_DATAPLANE_IF_3__", "there is no uplink 3 (1 configured)"},
		{"x __PCI_DEVICE_ID_1__", "there is no uplink 1"},
		{"x __FROBNICATE__", "__FROBNICATE__: unknown placeholder"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			_, err := Render(c.tmpl, p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), config.EnvConfigTemplate) {
				t.Fatalf("err = %v, want it to name %s and contain %q", err, config.EnvConfigTemplate, c.want)
			}
		})
	}
}

// The rendered files must be what VPP (here its stand-in's parser, which
// refuses what VPP refuses) accepts, and name the DPDK uplink.
func TestGoldenFilesParse(t *testing.T) {
	files, err := filepath.Glob("testdata/*.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("golden files: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := fakevpp.ParseStartupConfig(string(b))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		isDPDK := strings.Contains(f, "dpdk")
		if got := len(cfg.DPDK) == 1 && cfg.DPDK[0].Name == "eth0"; got != isDPDK {
			t.Errorf("%s: dpdk devices %+v", f, cfg.DPDK)
		}
	}
}
