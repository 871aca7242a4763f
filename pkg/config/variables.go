package config

// Variable documents one environment variable of the node configuration
// surface (the keys of the calico-vpp-config ConfigMap). The table returned by
// Variables is the single place where names, defaults and meanings are written
// down: the loader, the unknown-variable warning, the README and the
// ConfigMap all derive from it.
type Variable struct {
	Name        string
	Default     string // as written in the environment; "" means unset
	Description string
}

// Names of the environment variables.
const (
	EnvNodeName                = "NODENAME"
	EnvConfigTemplate          = "CALICOVPP_CONFIG_TEMPLATE"
	EnvConfigExecTemplate      = "CALICOVPP_CONFIG_EXEC_TEMPLATE"
	EnvInterfaces              = "CALICOVPP_INTERFACES"
	EnvInterface               = "CALICOVPP_INTERFACE"
	EnvNativeDriver            = "CALICOVPP_NATIVE_DRIVER"
	EnvInitialConfig           = "CALICOVPP_INITIAL_CONFIG"
	EnvFeatureGates            = "CALICOVPP_FEATURE_GATES"
	EnvDebug                   = "CALICOVPP_DEBUG"
	EnvServicePrefix           = "SERVICE_PREFIX"
	EnvUsePodCIDR              = "USE_POD_CIDR"
	EnvLogLevel                = "CALICOVPP_LOG_LEVEL"
	EnvLogFormat               = "CALICOVPP_LOG_FORMAT"
	EnvBGPLogLevel             = "CALICOVPP_BGP_LOG_LEVEL"
	EnvGracefulShutdownTimeout = "CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT"
	EnvTap0Addr                = "CALICOVPP_TAP0_ADDR"
	EnvHostTapName             = "CALICOVPP_HOST_TAP_NAME"
	EnvVPPBinary               = "CALICOVPP_VPP_BINARY"
	EnvVPPStartupConf          = "CALICOVPP_VPP_STARTUP_CONF"
	EnvVPPAPISocket            = "CALICOVPP_VPP_API_SOCKET"
	EnvVPPNetns                = "CALICOVPP_VPP_NETNS"
	EnvRunDir                  = "CALICOVPP_RUN_DIR"
	EnvStateDir                = "CALICOVPP_STATE_DIR"
	EnvCNIServerSocket         = "CALICOVPP_CNI_SERVER_SOCKET"
	EnvFelixDataplaneSocket    = "CALICOVPP_FELIX_DATAPLANE_SOCKET"
	EnvHookBeforeIfRead        = "CALICOVPP_HOOK_BEFORE_IF_READ"
	EnvHookBeforeVPPRun        = "CALICOVPP_HOOK_BEFORE_VPP_RUN"
	EnvHookVPPRunning          = "CALICOVPP_HOOK_VPP_RUNNING"
	EnvHookVPPDoneOK           = "CALICOVPP_HOOK_VPP_DONE_OK"
	EnvHookVPPErrored          = "CALICOVPP_HOOK_VPP_ERRORED"
)

// Variables lists every variable the binaries read, with its default.
func Variables() []Variable {
	return []Variable{
		{EnvNodeName, "", "Kubernetes node name of this node (required; set from spec.nodeName by the DaemonSet)."},
		{EnvConfigTemplate, "", "VPP startup.conf template. Placeholders: __PCI_DEVICE_ID__, __PCI_DEVICE_ID_n__, __VPP_DATAPLANE_IF__, __VPP_DATAPLANE_IF_n__, __NODE_ANNOTATION:key__, __RUN_DIR__, __API_SOCKET__, __STARTUP_EXEC__. Empty: vpp-manager's built-in template."},
		{EnvConfigExecTemplate, "", "VPP CLI commands written to startup.exec and run by VPP at start."},
		{EnvInterfaces, `{"defaultPodIfSpec":{"rx":1,"tx":1,"rxqsz":1024,"txqsz":1024,"isl3":true,"rxMode":"adaptive"},"maxPodIfSpec":{"rx":16,"tx":16,"rxqsz":4096,"txqsz":4096},"vppHostTapSpec":{"rx":1,"tx":1,"rxqsz":1024,"txqsz":1024,"isl3":false,"rxMode":"adaptive","interconnect":"auto"},"uplinkInterfaces":[]}`,
			"JSON: pod interface defaults and limits, the host tap (vpptap0) spec and the uplinks VPP takes over (interfaceName, vppDriver af_packet|af_xdp|dpdk|avf|virtio or empty for auto, newDriver, isMain, mtu, rx, tx, rxqsz, txqsz, rxMode, annotations). interconnect: auto|vhost|veth (veth + AF_PACKET when /dev/vhost-net is absent)."},
		{EnvInterface, "", "Deprecated shorthand for one uplink: its Linux interface name. Used only when CALICOVPP_INTERFACES lists no uplink."},
		{EnvNativeDriver, "", "Deprecated shorthand: VPP driver of the uplink named by CALICOVPP_INTERFACE."},
		{EnvInitialConfig, `{"vppStartupSleepSeconds":0,"corePattern":"","ifConfigSavePath":"","defaultGWs":"","redirectToHostRules":[],"prometheusListenEndpoint":":8888","prometheusRecordMetricInterval":"5s","healthCheckPort":9090}`,
			"JSON: start-up settings. ifConfigSavePath empty means <CALICOVPP_RUN_DIR>/uplink-linux-config.json; defaultGWs is a comma-separated list of gateway addresses added in VPP; redirectToHostRules are {proto,port,ip} punted to the host."},
		{EnvFeatureGates, `{"prometheusEnabled":false}`, "JSON: optional features. prometheusEnabled turns on the metrics endpoint. memifEnabled, vclEnabled, multinetEnabled, srv6Enabled and ipsecEnabled are recognised but not implemented: enabling one is refused."},
		{EnvDebug, `{"servicesEnabled":true,"gsoEnabled":true,"spreadTxQueuesOnWorkers":false}`, "JSON: debug switches."},
		{EnvServicePrefix, "10.96.0.0/12", "Comma-separated Kubernetes service CIDRs."},
		{EnvUsePodCIDR, "false", "true with host-local IPAM: advertise the Kubernetes node's spec.podCIDRs instead of Calico IPAM blocks (as calico-node)."},
		{EnvLogLevel, "info", "Log level: trace|debug|info|warn|error."},
		{EnvLogFormat, "text", "Log format: text|json."},
		{EnvBGPLogLevel, "info", "Log level of the embedded GoBGP."},
		{EnvGracefulShutdownTimeout, "10s", "How long a graceful stop may take (Go duration)."},
		{EnvTap0Addr, "169.254.0.1/32", "Address of VPP's side of the host tap."},
		{EnvHostTapName, "vpptap0", "Name of the host interface that replaces the uplink in Linux."},
		{EnvVPPBinary, "/usr/bin/vpp", "VPP binary started by vpp-manager."},
		{EnvVPPStartupConf, "/etc/vpp/startup.conf", "Where vpp-manager writes the rendered startup.conf (startup.exec goes beside it)."},
		{EnvVPPAPISocket, "/var/run/vpp/vpp-api.sock", "VPP binary API socket."},
		{EnvVPPNetns, "calico-vpp-ns", "Network namespace VPP runs in (uplinks moved there for AF_PACKET/AF_XDP)."},
		{EnvRunDir, "/var/run/vpp", "vpp-manager's status, PID and saved-configuration files."},
		{EnvStateDir, "/var/run/vpp", "The agent's persisted state (pods, journal)."},
		{EnvCNIServerSocket, "/var/run/calico/cni-server.sock", "gRPC socket of the agent's CNI server."},
		{EnvFelixDataplaneSocket, "/var/run/calico/felix-dataplane.sock", "Socket felix-proxy relays Felix's dataplane messages to."},
		{EnvHookBeforeIfRead, "", "Shell script run before vpp-manager reads the uplink's Linux configuration."},
		{EnvHookBeforeVPPRun, "", "Shell script run before VPP starts."},
		{EnvHookVPPRunning, "", "Shell script run once VPP runs and the uplink is configured."},
		{EnvHookVPPDoneOK, "", "Shell script run after VPP stopped cleanly."},
		{EnvHookVPPErrored, "", "Shell script run after VPP failed."},
	}
}
