// Package config reads and validates the node configuration that
// vpp-manager and calico-vpp-agent share: the environment variables of the
// calico-vpp-config ConfigMap. Load is pure (it takes the environment as a
// list) so every rule is table-tested; Variables documents the defaults.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// LogFormat selects the log encoder.
type LogFormat string

// Log formats.
const (
	LogFormatText LogFormat = "text"
	LogFormatJSON LogFormat = "json"
)

// Paths are every file, socket and namespace name the binaries use, so
// that several simulated nodes can run side by side on one machine.
type Paths struct {
	VPPBinary            string
	VPPStartupConf       string
	VPPAPISocket         string
	VPPNetns             string
	RunDir               string
	StateDir             string
	CNIServerSocket      string
	FelixDataplaneSocket string
}

// StartupExec is where startup.exec is written: beside startup.conf.
func (p Paths) StartupExec() string {
	return filepath.Join(filepath.Dir(p.VPPStartupConf), "startup.exec")
}

// Hooks are the operator's shell scripts run at vpp-manager's milestones.
type Hooks struct {
	BeforeIfRead string
	BeforeVPPRun string
	VPPRunning   string
	VPPDoneOK    string
	VPPErrored   string
}

// Config is the validated node configuration.
type Config struct {
	NodeName                string
	ConfigTemplate          string
	ConfigExecTemplate      string
	Interfaces              Interfaces
	Initial                 InitialConfig
	FeatureGates            FeatureGates
	Debug                   Debug
	ServicePrefixes         []netip.Prefix
	UsePodCIDR              bool
	LogLevel                logrus.Level
	LogFormat               LogFormat
	BGPLogLevel             logrus.Level
	GracefulShutdownTimeout time.Duration
	Tap0Addr                netip.Prefix
	HostTapName             string
	Paths                   Paths
	Hooks                   Hooks
}

// UplinkSavePath is where vpp-manager saves the uplinks' Linux state.
func (c *Config) UplinkSavePath() string {
	if c.Initial.IfConfigSavePath != "" {
		return c.Initial.IfConfigSavePath
	}
	return filepath.Join(c.Paths.RunDir, "uplink-linux-config.json")
}

// Warning is a non-fatal remark about the configuration (an unknown
// variable, an unknown JSON field); callers log them.
type Warning string

// Load reads the configuration from an environment given as KEY=VALUE
// pairs (os.Environ()). It returns every problem at once, each a
// *FieldError, joined with errors.Join.
func Load(environ []string) (*Config, []Warning, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	l := loader{env: env, defaults: map[string]string{}}
	for _, v := range Variables() {
		l.defaults[v.Name] = v.Default
	}
	cfg := l.load()
	if len(l.errs) > 0 {
		return nil, l.warnings, errors.Join(l.errs...)
	}
	return cfg, l.warnings, nil
}

type loader struct {
	env      map[string]string
	defaults map[string]string
	errs     []error
	warnings []Warning
}

// get returns the variable's value, or its documented default when unset
// or empty.
func (l *loader) get(name string) string {
	if v, ok := l.env[name]; ok && strings.TrimSpace(v) != "" {
		return v
	}
	return l.defaults[name]
}

func (l *loader) fail(name, format string, args ...any) {
	l.errs = append(l.errs, &FieldError{Variable: name, Reason: fmt.Sprintf(format, args...)})
}

func (l *loader) load() *Config {
	cfg := &Config{
		ConfigTemplate:     l.env[EnvConfigTemplate],
		ConfigExecTemplate: l.env[EnvConfigExecTemplate],
		Interfaces:         defaultInterfaces(),
		Initial:            defaultInitialConfig(),
		Debug:              defaultDebug(),
	}
	l.warnUnknown()

	cfg.NodeName = strings.TrimSpace(l.env[EnvNodeName])
	if cfg.NodeName == "" {
		l.fail(EnvNodeName, "required (the Kubernetes node name)")
	}

	if raw := l.env[EnvInterfaces]; strings.TrimSpace(raw) != "" {
		l.decodeJSON(EnvInterfaces, raw, &cfg.Interfaces)
	}
	l.legacyUplink(cfg)
	errs := fieldErrors{variable: EnvInterfaces}
	cfg.Interfaces.normalize(&errs)
	l.errs = append(l.errs, errs.errs...)

	if raw := l.env[EnvInitialConfig]; strings.TrimSpace(raw) != "" {
		l.decodeJSON(EnvInitialConfig, raw, &cfg.Initial)
	}
	errs = fieldErrors{variable: EnvInitialConfig}
	cfg.Initial.normalize(&errs)
	l.errs = append(l.errs, errs.errs...)

	if raw := l.env[EnvFeatureGates]; strings.TrimSpace(raw) != "" {
		l.decodeJSON(EnvFeatureGates, raw, &cfg.FeatureGates)
	}
	errs = fieldErrors{variable: EnvFeatureGates}
	cfg.FeatureGates.normalize(&errs)
	l.errs = append(l.errs, errs.errs...)

	if raw := l.env[EnvDebug]; strings.TrimSpace(raw) != "" {
		l.decodeJSON(EnvDebug, raw, &cfg.Debug)
	}

	cfg.ServicePrefixes = l.prefixes(EnvServicePrefix)
	cfg.UsePodCIDR = l.boolean(EnvUsePodCIDR)
	cfg.LogLevel = l.level(EnvLogLevel)
	cfg.BGPLogLevel = l.level(EnvBGPLogLevel)
	switch f := LogFormat(strings.ToLower(l.get(EnvLogFormat))); f {
	case LogFormatText, LogFormatJSON:
		cfg.LogFormat = f
	default:
		l.fail(EnvLogFormat, "unknown format %q (want text|json)", f)
	}
	cfg.GracefulShutdownTimeout = l.duration(EnvGracefulShutdownTimeout)
	cfg.Tap0Addr = l.hostPrefix(EnvTap0Addr)
	cfg.HostTapName = l.ifName(EnvHostTapName)

	cfg.Paths = Paths{
		VPPBinary:            l.absPath(EnvVPPBinary),
		VPPStartupConf:       l.absPath(EnvVPPStartupConf),
		VPPAPISocket:         l.absPath(EnvVPPAPISocket),
		VPPNetns:             l.netnsName(EnvVPPNetns),
		RunDir:               l.absPath(EnvRunDir),
		StateDir:             l.absPath(EnvStateDir),
		CNIServerSocket:      l.absPath(EnvCNIServerSocket),
		FelixDataplaneSocket: l.absPath(EnvFelixDataplaneSocket),
	}
	cfg.Hooks = Hooks{
		BeforeIfRead: l.env[EnvHookBeforeIfRead],
		BeforeVPPRun: l.env[EnvHookBeforeVPPRun],
		VPPRunning:   l.env[EnvHookVPPRunning],
		VPPDoneOK:    l.env[EnvHookVPPDoneOK],
		VPPErrored:   l.env[EnvHookVPPErrored],
	}
	return cfg
}

// warnUnknown flags CALICOVPP_* variables nobody reads: usually a typo.
func (l *loader) warnUnknown() {
	var unknown []string
	for k := range l.env {
		if !strings.HasPrefix(k, "CALICOVPP_") {
			continue
		}
		if _, known := l.defaults[k]; !known {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		l.warnings = append(l.warnings, Warning(fmt.Sprintf("%s: unknown variable, ignored", k)))
	}
}

// decodeJSON decodes raw over the defaults already in into. Unknown fields
// are warnings (configurations written for other releases keep working);
// malformed JSON and wrong types are errors.
func (l *loader) decodeJSON(name, raw string, into any) {
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			field, value := locate(raw, typeErr.Field, typeErr.Value)
			l.errs = append(l.errs, &FieldError{Variable: name, Field: field,
				Reason: fmt.Sprintf("want %s, got %s", typeErr.Type, value)})
		case errors.As(err, &syntaxErr):
			l.fail(name, "invalid JSON at byte %d: %v", syntaxErr.Offset, err)
		default:
			l.fail(name, "%v", err)
		}
		return
	}
	// A second, strict pass into a throw-away value finds unknown fields.
	strict := json.NewDecoder(bytes.NewReader([]byte(raw)))
	strict.DisallowUnknownFields()
	scratch := newLike(into)
	if err := strict.Decode(scratch); err != nil && strings.Contains(err.Error(), "unknown field") {
		l.warnings = append(l.warnings, Warning(fmt.Sprintf("%s: %v, ignored", name, strings.TrimPrefix(err.Error(), "json: "))))
	}
}

func newLike(v any) any {
	switch v.(type) {
	case *Interfaces:
		return &Interfaces{}
	case *InitialConfig:
		return &InitialConfig{}
	case *FeatureGates:
		return &FeatureGates{}
	case *Debug:
		return &Debug{}
	}
	return &map[string]any{}
}

// legacyUplink honours the deprecated CALICOVPP_INTERFACE and
// CALICOVPP_NATIVE_DRIVER when no uplink is listed in CALICOVPP_INTERFACES.
func (l *loader) legacyUplink(cfg *Config) {
	name := strings.TrimSpace(l.env[EnvInterface])
	driver := Driver(strings.TrimSpace(l.env[EnvNativeDriver]))
	if name == "" {
		if driver != "" {
			l.fail(EnvNativeDriver, "set without %s", EnvInterface)
		}
		return
	}
	if len(cfg.Interfaces.UplinkInterfaces) > 0 {
		l.fail(EnvInterface, "%q conflicts with %s.uplinkInterfaces; use only one of them", name, EnvInterfaces)
		return
	}
	l.warnings = append(l.warnings, Warning(fmt.Sprintf("%s is deprecated; use %s.uplinkInterfaces", EnvInterface, EnvInterfaces)))
	if driver != DriverAuto && !oneOf(driver, drivers) {
		l.fail(EnvNativeDriver, "unknown driver %q (want %s)", driver, joinEnum(drivers))
		driver = DriverAuto
	}
	cfg.Interfaces.UplinkInterfaces = []UplinkSpec{{InterfaceName: name, VppDriver: driver, IsMain: true}}
}

func (l *loader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range strings.Split(l.get(name), ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			l.fail(name, "%q is not a CIDR", s)
			continue
		}
		if p.Masked() != p {
			l.fail(name, "%q has host bits set (did you mean %s?)", s, p.Masked())
			continue
		}
		out = append(out, p)
	}
	return out
}

func (l *loader) level(name string) logrus.Level {
	v := l.get(name)
	lvl, err := logrus.ParseLevel(v)
	if err != nil {
		l.fail(name, "unknown level %q (want trace|debug|info|warn|error)", v)
		return logrus.InfoLevel
	}
	return lvl
}

func (l *loader) boolean(name string) bool {
	v := l.get(name)
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		l.fail(name, "%q is not true or false", v)
	}
	return b
}

func (l *loader) duration(name string) time.Duration {
	v := l.get(name)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		l.fail(name, "%q is not a positive duration such as \"10s\"", v)
		return 0
	}
	return d
}

// hostPrefix parses an address with an optional prefix length (a bare
// address is a host route).
func (l *loader) hostPrefix(name string) netip.Prefix {
	v := strings.TrimSpace(l.get(name))
	if !strings.Contains(v, "/") {
		a, err := netip.ParseAddr(v)
		if err != nil {
			l.fail(name, "%q is not an address or address/length", v)
			return netip.Prefix{}
		}
		return netip.PrefixFrom(a, a.BitLen())
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		l.fail(name, "%q is not an address or address/length", v)
		return netip.Prefix{}
	}
	return p
}

func (l *loader) ifName(name string) string {
	v := strings.TrimSpace(l.get(name))
	if v == "" || len(v) > 15 || strings.ContainsAny(v, "/ \t\n") {
		l.fail(name, "invalid Linux interface name %q (1-15 characters, no '/' or spaces)", v)
	}
	return v
}

func (l *loader) netnsName(name string) string {
	v := strings.TrimSpace(l.get(name))
	if v == "" || strings.ContainsAny(v, "/ \t\n") || v == "." || v == ".." {
		l.fail(name, "invalid network namespace name %q", v)
	}
	return v
}

func (l *loader) absPath(name string) string {
	v := strings.TrimSpace(l.get(name))
	if !filepath.IsAbs(v) {
		l.fail(name, "%q is not an absolute path", v)
	}
	return filepath.Clean(v)
}

// locate finds, in raw JSON, the value a type error is about: Go's error
// gives the field path without array indexes ("uplinkInterfaces.mtu") and
// only the kind of the value ("string"). It returns the path with indexes
// ("uplinkInterfaces[1].mtu") and the value as written.
func locate(raw, field, kind string) (string, string) {
	var root any
	if err := json.Unmarshal([]byte(raw), &root); err != nil {
		return field, "JSON " + kind
	}
	var walk func(node any, parts []string, path string) (string, string, bool)
	walk = func(node any, parts []string, path string) (string, string, bool) {
		if arr, ok := node.([]any); ok {
			for i, el := range arr {
				if p, v, ok := walk(el, parts, fmt.Sprintf("%s[%d]", path, i)); ok {
					return p, v, true
				}
			}
			return "", "", false
		}
		if len(parts) == 0 {
			if k := jsonKind(node); k != kind && !(k == "number" && strings.HasPrefix(kind, "number")) {
				return "", "", false
			}
			b, _ := json.Marshal(node)
			return path, string(b), true
		}
		obj, ok := node.(map[string]any)
		if !ok {
			return "", "", false
		}
		child, ok := obj[parts[0]]
		if !ok {
			return "", "", false
		}
		return walk(child, parts[1:], joinField(path, parts[0]))
	}
	if p, v, ok := walk(root, strings.Split(field, "."), ""); ok {
		return p, v
	}
	return field, "JSON " + kind
}

// jsonKind names a decoded JSON value as encoding/json's errors do.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}
