package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// RedirectToHostRule punts traffic to a VPP-local address and port to the
// host through the tap (for instance DNS to a node-local resolver).
type RedirectToHostRule struct {
	Proto string     `json:"proto"`
	Port  uint16     `json:"port"`
	IP    netip.Addr `json:"ip"`
}

// Duration is a time.Duration that decodes from a Go duration string.
type Duration struct{ time.Duration }

// UnmarshalJSON accepts "5s"-style strings and plain numbers of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("want a duration such as \"5s\", got %s", b)
		}
		d.Duration = time.Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q", s)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// InitialConfig is the decoded CALICOVPP_INITIAL_CONFIG.
type InitialConfig struct {
	VppStartupSleepSeconds         int                  `json:"vppStartupSleepSeconds"`
	CorePattern                    string               `json:"corePattern"`
	ExtraAddrCount                 int                  `json:"extraAddrCount"`
	IfConfigSavePath               string               `json:"ifConfigSavePath"`
	DefaultGWs                     string               `json:"defaultGWs"`
	RedirectToHostRules            []RedirectToHostRule `json:"redirectToHostRules"`
	PrometheusListenEndpoint       string               `json:"prometheusListenEndpoint"`
	PrometheusRecordMetricInterval Duration             `json:"prometheusRecordMetricInterval"`
	HealthCheckPort                uint16               `json:"healthCheckPort"`

	// DefaultGateways is DefaultGWs parsed.
	DefaultGateways []netip.Addr `json:"-"`
}

func defaultInitialConfig() InitialConfig {
	return InitialConfig{
		PrometheusListenEndpoint:       ":8888",
		PrometheusRecordMetricInterval: Duration{5 * time.Second},
		HealthCheckPort:                9090,
	}
}

func (c *InitialConfig) normalize(errs *fieldErrors) {
	if c.VppStartupSleepSeconds < 0 || c.VppStartupSleepSeconds > 3600 {
		errs.add("vppStartupSleepSeconds", "%d out of range (want 0-3600)", c.VppStartupSleepSeconds)
	}
	if c.ExtraAddrCount < 0 || c.ExtraAddrCount > 255 {
		errs.add("extraAddrCount", "%d out of range (want 0-255)", c.ExtraAddrCount)
	}
	if c.HealthCheckPort == 0 {
		errs.add("healthCheckPort", "0 is not a valid port")
	}
	if c.PrometheusRecordMetricInterval.Duration <= 0 {
		errs.add("prometheusRecordMetricInterval", "%s must be positive", c.PrometheusRecordMetricInterval)
	}
	if c.PrometheusListenEndpoint != "" {
		if _, port, ok := strings.Cut(c.PrometheusListenEndpoint, ":"); !ok || port == "" {
			errs.add("prometheusListenEndpoint", "%q is not a host:port listen address", c.PrometheusListenEndpoint)
		}
	}
	c.DefaultGateways = nil
	for _, s := range strings.Split(c.DefaultGWs, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			errs.add("defaultGWs", "%q is not an IP address", s)
			continue
		}
		c.DefaultGateways = append(c.DefaultGateways, a)
	}
	for i, r := range c.RedirectToHostRules {
		field := fmt.Sprintf("redirectToHostRules[%d]", i)
		if r.Proto != "tcp" && r.Proto != "udp" {
			errs.add(field+".proto", "unknown protocol %q (want tcp|udp)", r.Proto)
		}
		if r.Port == 0 {
			errs.add(field+".port", "0 is not a valid port")
		}
		if !r.IP.IsValid() {
			errs.add(field+".ip", "required")
		}
	}
}

// FeatureGates is the decoded CALICOVPP_FEATURE_GATES.
type FeatureGates struct {
	PrometheusEnabled bool `json:"prometheusEnabled"`
	MemifEnabled      bool `json:"memifEnabled"`
	VCLEnabled        bool `json:"vclEnabled"`
	MultinetEnabled   bool `json:"multinetEnabled"`
	SRv6Enabled       bool `json:"srv6Enabled"`
	IPSecEnabled      bool `json:"ipsecEnabled"`
}

func (g *FeatureGates) normalize(errs *fieldErrors) {
	unimplemented := []struct {
		name string
		on   bool
	}{
		{"memifEnabled", g.MemifEnabled},
		{"vclEnabled", g.VCLEnabled},
		{"multinetEnabled", g.MultinetEnabled},
		{"srv6Enabled", g.SRv6Enabled},
		{"ipsecEnabled", g.IPSecEnabled},
	}
	for _, u := range unimplemented {
		if u.on {
			errs.add(u.name, "true is not supported by this release")
		}
	}
}

// Debug is the decoded CALICOVPP_DEBUG.
type Debug struct {
	ServicesEnabled         bool `json:"servicesEnabled"`
	GSOEnabled              bool `json:"gsoEnabled"`
	SpreadTxQueuesOnWorkers bool `json:"spreadTxQueuesOnWorkers"`
}

func defaultDebug() Debug {
	return Debug{ServicesEnabled: true, GSOEnabled: true}
}
