package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// env builds an environment with NODENAME set plus the given pairs.
func env(kv ...string) []string {
	out := []string{"NODENAME=node-a"}
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, kv[i]+"="+kv[i+1])
	}
	return out
}

func TestLoadDefaults(t *testing.T) {
	cfg, warnings, err := Load(env())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %v, want none", warnings)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"NodeName", cfg.NodeName, "node-a"},
		{"LogLevel", cfg.LogLevel, logrus.InfoLevel},
		{"LogFormat", cfg.LogFormat, LogFormatText},
		{"BGPLogLevel", cfg.BGPLogLevel, logrus.InfoLevel},
		{"GracefulShutdownTimeout", cfg.GracefulShutdownTimeout, 10 * time.Second},
		{"Tap0Addr", cfg.Tap0Addr, netip.MustParsePrefix("169.254.0.1/32")},
		{"HostTapName", cfg.HostTapName, "vpptap0"},
		{"ServicePrefixes", len(cfg.ServicePrefixes), 1},
		{"VPPAPISocket", cfg.Paths.VPPAPISocket, "/var/run/vpp/vpp-api.sock"},
		{"VPPNetns", cfg.Paths.VPPNetns, "calico-vpp-ns"},
		{"CNIServerSocket", cfg.Paths.CNIServerSocket, "/var/run/calico/cni-server.sock"},
		{"FelixDataplaneSocket", cfg.Paths.FelixDataplaneSocket, "/var/run/calico/felix-dataplane.sock"},
		{"StartupExec", cfg.Paths.StartupExec(), "/etc/vpp/startup.exec"},
		{"UplinkSavePath", cfg.UplinkSavePath(), "/var/run/vpp/uplink-linux-config.json"},
		{"HealthCheckPort", cfg.Initial.HealthCheckPort, uint16(9090)},
		{"PrometheusListenEndpoint", cfg.Initial.PrometheusListenEndpoint, ":8888"},
		{"PrometheusRecordMetricInterval", cfg.Initial.PrometheusRecordMetricInterval.Duration, 5 * time.Second},
		{"ServicesEnabled", cfg.Debug.ServicesEnabled, true},
		{"GSOEnabled", cfg.Debug.GSOEnabled, true},
		{"PodRx", cfg.Interfaces.DefaultPodIfSpec.NumRxQueues, 1},
		{"PodRxqsz", cfg.Interfaces.DefaultPodIfSpec.RxQueueSize, 1024},
		{"PodIsL3", *cfg.Interfaces.DefaultPodIfSpec.IsL3, true},
		{"PodRxMode", cfg.Interfaces.DefaultPodIfSpec.RxMode, RxModeAdaptive},
		{"TapIsL3", *cfg.Interfaces.VppHostTapSpec.IsL3, false},
		{"TapInterconnect", cfg.Interfaces.VppHostTapSpec.Interconnect, InterconnectAuto},
		{"Uplinks", len(cfg.Interfaces.UplinkInterfaces), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadValues(t *testing.T) {
	cfg, warnings, err := Load(env(
		EnvInterfaces, `{"defaultPodIfSpec":{"rx":2,"rxMode":"polling"},
			"uplinkInterfaces":[{"interfaceName":"eth1","vppDriver":"af_xdp"},{"interfaceName":"eth0","vppDriver":"dpdk","isMain":true,"mtu":1500,"rxqsz":2048}]}`,
		EnvInitialConfig, `{"vppStartupSleepSeconds":3,"defaultGWs":"198.18.0.1, 2001:db8::1","healthCheckPort":9191,
			"redirectToHostRules":[{"proto":"udp","port":53,"ip":"198.18.0.53"}],"prometheusRecordMetricInterval":"1m"}`,
		EnvFeatureGates, `{"prometheusEnabled":true}`,
		EnvDebug, `{"servicesEnabled":false}`,
		EnvServicePrefix, "198.19.0.0/16, 2001:db8:5::/108",
		EnvLogLevel, "debug",
		EnvLogFormat, "JSON",
		EnvGracefulShutdownTimeout, "30s",
		EnvTap0Addr, "192.0.2.1",
		EnvHostTapName, "vpptap9",
		EnvVPPAPISocket, "/tmp/n1/api.sock",
		EnvHookVPPRunning, "echo running",
	))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %v", warnings)
	}
	main, ok := cfg.Interfaces.MainUplink()
	if !ok || main.InterfaceName != "eth0" || !main.IsMain || main.VppDriver != DriverDPDK || main.Mtu != 1500 || main.RxQueueSize != 2048 {
		t.Errorf("main uplink = %+v, want eth0 first and main", main)
	}
	if got := cfg.Interfaces.UplinkInterfaces[1].InterfaceName; got != "eth1" {
		t.Errorf("second uplink = %q, want eth1", got)
	}
	pod := cfg.Interfaces.DefaultPodIfSpec
	if pod.NumRxQueues != 2 || pod.NumTxQueues != 1 || pod.RxMode != RxModePolling || pod.RxQueueSize != 1024 {
		t.Errorf("defaultPodIfSpec = %+v, want rx=2 polling, other fields defaulted", pod)
	}
	if got := cfg.Initial.DefaultGateways; len(got) != 2 || got[1] != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("DefaultGateways = %v", got)
	}
	if cfg.Initial.HealthCheckPort != 9191 || cfg.Initial.PrometheusRecordMetricInterval.Duration != time.Minute || cfg.Initial.VppStartupSleepSeconds != 3 {
		t.Errorf("initial = %+v", cfg.Initial)
	}
	if r := cfg.Initial.RedirectToHostRules; len(r) != 1 || r[0].Port != 53 || r[0].IP != netip.MustParseAddr("198.18.0.53") {
		t.Errorf("redirectToHostRules = %+v", r)
	}
	if !cfg.FeatureGates.PrometheusEnabled || cfg.Debug.ServicesEnabled || !cfg.Debug.GSOEnabled {
		t.Errorf("gates=%+v debug=%+v", cfg.FeatureGates, cfg.Debug)
	}
	if len(cfg.ServicePrefixes) != 2 || cfg.LogLevel != logrus.DebugLevel || cfg.LogFormat != LogFormatJSON {
		t.Errorf("prefixes=%v level=%v format=%v", cfg.ServicePrefixes, cfg.LogLevel, cfg.LogFormat)
	}
	if cfg.GracefulShutdownTimeout != 30*time.Second || cfg.Tap0Addr != netip.MustParsePrefix("192.0.2.1/32") || cfg.HostTapName != "vpptap9" {
		t.Errorf("timeout=%v tap0=%v tap=%v", cfg.GracefulShutdownTimeout, cfg.Tap0Addr, cfg.HostTapName)
	}
	if cfg.Paths.VPPAPISocket != "/tmp/n1/api.sock" || cfg.Hooks.VPPRunning != "echo running" {
		t.Errorf("paths=%+v hooks=%+v", cfg.Paths, cfg.Hooks)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name    string
		environ []string
		want    string // substring of the error
	}{
		{"missing node name", []string{}, "NODENAME: required"},
		{"unknown driver", env(EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"eth0","vppDriver":"afpacket"}]}`),
			`CALICOVPP_INTERFACES.uplinkInterfaces[0].vppDriver: unknown driver "afpacket" (want af_packet|af_xdp|dpdk|avf|virtio)`},
		{"missing interface name", env(EnvInterfaces, `{"uplinkInterfaces":[{"vppDriver":"dpdk"}]}`),
			"CALICOVPP_INTERFACES.uplinkInterfaces[0].interfaceName: required"},
		{"bad interface name", env(EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"a/b"}]}`),
			`CALICOVPP_INTERFACES.uplinkInterfaces[0].interfaceName: invalid Linux interface name "a/b"`},
		{"duplicate uplink", env(EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"eth0"},{"interfaceName":"eth0"}]}`),
			`CALICOVPP_INTERFACES.uplinkInterfaces[1].interfaceName: "eth0" already used by uplinkInterfaces[0]`},
		{"two mains", env(EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"eth0","isMain":true},{"interfaceName":"eth1","isMain":true}]}`),
			"CALICOVPP_INTERFACES.uplinkInterfaces[1].isMain: only one uplink may be main"},
		{"bad mtu", env(EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"eth0","mtu":100}]}`),
			"CALICOVPP_INTERFACES.uplinkInterfaces[0].mtu: MTU 100 out of range"},
		{"uplink interconnect", env(EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"eth0","interconnect":"veth"}]}`),
			"CALICOVPP_INTERFACES.uplinkInterfaces[0].interconnect"},
		{"bad rx mode", env(EnvInterfaces, `{"defaultPodIfSpec":{"rxMode":"fast"}}`),
			`CALICOVPP_INTERFACES.defaultPodIfSpec.rxMode: unknown rx mode "fast" (want interrupt|adaptive|polling)`},
		{"bad queue size", env(EnvInterfaces, `{"maxPodIfSpec":{"rxqsz":1000}}`),
			"CALICOVPP_INTERFACES.maxPodIfSpec.rxqsz: queue size 1000 is not a power of two"},
		{"too many queues", env(EnvInterfaces, `{"vppHostTapSpec":{"tx":65}}`),
			"CALICOVPP_INTERFACES.vppHostTapSpec.tx: queue count 65 out of range"},
		{"bad interconnect", env(EnvInterfaces, `{"vppHostTapSpec":{"interconnect":"wire"}}`),
			`CALICOVPP_INTERFACES.vppHostTapSpec.interconnect: unknown interconnect "wire" (want auto|vhost|veth)`},
		{"l3 host tap", env(EnvInterfaces, `{"vppHostTapSpec":{"isl3":true}}`),
			"CALICOVPP_INTERFACES.vppHostTapSpec.isl3"},
		{"wrong json type", env(EnvInterfaces, `{"defaultPodIfSpec":{"rx":"two"}}`),
			`CALICOVPP_INTERFACES.defaultPodIfSpec.rx: want int, got "two"`},
		{"wrong json type in an array", env(EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"eth0"},{"interfaceName":"eth1","mtu":"x"}]}`),
			`CALICOVPP_INTERFACES.uplinkInterfaces[1].mtu: want int, got "x"`},
		{"malformed json", env(EnvInterfaces, `{"uplinkInterfaces":[`), "CALICOVPP_INTERFACES: invalid JSON"},
		{"legacy conflict", env(EnvInterface, "eth0", EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"eth1"}]}`),
			`CALICOVPP_INTERFACE: "eth0" conflicts`},
		{"legacy driver alone", env(EnvNativeDriver, "dpdk"), "CALICOVPP_NATIVE_DRIVER: set without CALICOVPP_INTERFACE"},
		{"legacy bad driver", env(EnvInterface, "eth0", EnvNativeDriver, "e1000"), `CALICOVPP_NATIVE_DRIVER: unknown driver "e1000"`},
		{"bad gateway", env(EnvInitialConfig, `{"defaultGWs":"198.18.0.1,gw"}`), `CALICOVPP_INITIAL_CONFIG.defaultGWs: "gw" is not an IP address`},
		{"bad sleep", env(EnvInitialConfig, `{"vppStartupSleepSeconds":-1}`), "CALICOVPP_INITIAL_CONFIG.vppStartupSleepSeconds: -1 out of range"},
		{"bad extra addr", env(EnvInitialConfig, `{"extraAddrCount":300}`), "CALICOVPP_INITIAL_CONFIG.extraAddrCount: 300 out of range"},
		{"zero health port", env(EnvInitialConfig, `{"healthCheckPort":0}`), "CALICOVPP_INITIAL_CONFIG.healthCheckPort: 0 is not a valid port"},
		{"health port too big", env(EnvInitialConfig, `{"healthCheckPort":70000}`), "CALICOVPP_INITIAL_CONFIG.healthCheckPort: want uint16, got 70000"},
		{"bad metrics endpoint", env(EnvInitialConfig, `{"prometheusListenEndpoint":"8888"}`), `CALICOVPP_INITIAL_CONFIG.prometheusListenEndpoint: "8888" is not a host:port`},
		{"bad metrics interval", env(EnvInitialConfig, `{"prometheusRecordMetricInterval":"soon"}`), `CALICOVPP_INITIAL_CONFIG: invalid duration "soon"`},
		{"negative metrics interval", env(EnvInitialConfig, `{"prometheusRecordMetricInterval":"-1s"}`), "CALICOVPP_INITIAL_CONFIG.prometheusRecordMetricInterval: -1s must be positive"},
		{"bad redirect proto", env(EnvInitialConfig, `{"redirectToHostRules":[{"proto":"sctp","port":53,"ip":"198.18.0.53"}]}`),
			`CALICOVPP_INITIAL_CONFIG.redirectToHostRules[0].proto: unknown protocol "sctp" (want tcp|udp)`},
		{"redirect port zero", env(EnvInitialConfig, `{"redirectToHostRules":[{"proto":"udp","ip":"198.18.0.53"}]}`),
			"CALICOVPP_INITIAL_CONFIG.redirectToHostRules[0].port: 0 is not a valid port"},
		{"redirect without ip", env(EnvInitialConfig, `{"redirectToHostRules":[{"proto":"udp","port":53}]}`),
			"CALICOVPP_INITIAL_CONFIG.redirectToHostRules[0].ip: required"},
		{"unimplemented gate", env(EnvFeatureGates, `{"ipsecEnabled":true}`), "CALICOVPP_FEATURE_GATES.ipsecEnabled: true is not supported"},
		{"bad debug json", env(EnvDebug, `{"gsoEnabled":"yes"}`), `CALICOVPP_DEBUG.gsoEnabled: want bool, got "yes"`},
		{"bad service prefix", env(EnvServicePrefix, "198.19.0.0/16,nope"), `SERVICE_PREFIX: "nope" is not a CIDR`},
		{"bad USE_POD_CIDR", env(EnvUsePodCIDR, "maybe"), `USE_POD_CIDR: "maybe" is not true or false`},
		{"service prefix host bits", env(EnvServicePrefix, "198.19.0.1/16"), `SERVICE_PREFIX: "198.19.0.1/16" has host bits set (did you mean 198.19.0.0/16?)`},
		{"bad log level", env(EnvLogLevel, "verbose"), `CALICOVPP_LOG_LEVEL: unknown level "verbose"`},
		{"bad bgp log level", env(EnvBGPLogLevel, "loud"), `CALICOVPP_BGP_LOG_LEVEL: unknown level "loud"`},
		{"bad log format", env(EnvLogFormat, "xml"), `CALICOVPP_LOG_FORMAT: unknown format "xml" (want text|json)`},
		{"bad timeout", env(EnvGracefulShutdownTimeout, "10"), `CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT: "10" is not a positive duration`},
		{"bad tap0 addr", env(EnvTap0Addr, "169.254.0.1/99"), `CALICOVPP_TAP0_ADDR: "169.254.0.1/99" is not an address`},
		{"bad tap0 bare addr", env(EnvTap0Addr, "tap"), `CALICOVPP_TAP0_ADDR: "tap" is not an address`},
		{"bad tap name", env(EnvHostTapName, "a-very-long-interface-name"), `CALICOVPP_HOST_TAP_NAME: invalid Linux interface name`},
		{"relative socket", env(EnvVPPAPISocket, "vpp.sock"), `CALICOVPP_VPP_API_SOCKET: "vpp.sock" is not an absolute path`},
		{"bad netns", env(EnvVPPNetns, "a/b"), `CALICOVPP_VPP_NETNS: invalid network namespace name "a/b"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, _, err := Load(c.environ)
			if err == nil {
				t.Fatalf("Load succeeded (%+v), want error containing %q", cfg, c.want)
			}
			if cfg != nil {
				t.Errorf("Load returned a config with an error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %q\nwant it to contain %q", err, c.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FieldError", err)
			}
		})
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	_, _, err := Load(env(EnvLogLevel, "x", EnvLogFormat, "y", EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"eth0","vppDriver":"z"}]}`))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{EnvLogLevel, EnvLogFormat, "vppDriver"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestLoadWarnings(t *testing.T) {
	cases := []struct {
		name    string
		environ []string
		want    string
	}{
		{"unknown variable", env("CALICOVPP_INTERFACESS", "{}"), "CALICOVPP_INTERFACESS: unknown variable"},
		{"unknown json field", env(EnvInterfaces, `{"uplinkInterfaces":[{"interfaceName":"eth0","vpp_driver":"dpdk"}]}`), `CALICOVPP_INTERFACES: unknown field "vpp_driver"`},
		{"legacy interface", env(EnvInterface, "eth0"), "CALICOVPP_INTERFACE is deprecated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, warnings, err := Load(c.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			found := false
			for _, w := range warnings {
				if strings.Contains(string(w), c.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("warnings %q do not contain %q", warnings, c.want)
			}
		})
	}
}

func TestLegacyUplink(t *testing.T) {
	cfg, _, err := Load(env(EnvInterface, "eth0", EnvNativeDriver, "af_packet"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	main, ok := cfg.Interfaces.MainUplink()
	if !ok || main.InterfaceName != "eth0" || main.VppDriver != DriverAFPacket || !main.IsMain {
		t.Errorf("main uplink = %+v", main)
	}
}

func TestBounded(t *testing.T) {
	cases := []struct {
		name      string
		spec, max InterfaceSpec
		want      InterfaceSpec
	}{
		{"within", InterfaceSpec{NumRxQueues: 2, RxQueueSize: 512}, InterfaceSpec{NumRxQueues: 4, RxQueueSize: 1024}, InterfaceSpec{NumRxQueues: 2, RxQueueSize: 512}},
		{"clamped", InterfaceSpec{NumRxQueues: 8, NumTxQueues: 8, TxQueueSize: 8192}, InterfaceSpec{NumRxQueues: 4, NumTxQueues: 2, TxQueueSize: 4096}, InterfaceSpec{NumRxQueues: 4, NumTxQueues: 2, TxQueueSize: 4096}},
		{"no bound", InterfaceSpec{NumRxQueues: 32}, InterfaceSpec{}, InterfaceSpec{NumRxQueues: 32}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.spec.Bounded(c.max); got != c.want {
				t.Errorf("Bounded = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestVariablesDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Variables() {
		if seen[v.Name] {
			t.Errorf("%s listed twice", v.Name)
		}
		seen[v.Name] = true
		if v.Description == "" {
			t.Errorf("%s has no description", v.Name)
		}
	}
	// Every JSON default documented must itself load cleanly.
	var environ []string
	for _, v := range Variables() {
		if v.Default != "" {
			environ = append(environ, v.Name+"="+v.Default)
		}
	}
	if _, warnings, err := Load(append(environ, "NODENAME=n")); err != nil || len(warnings) != 0 {
		t.Errorf("documented defaults do not load cleanly: err=%v warnings=%v", err, warnings)
	}
}
