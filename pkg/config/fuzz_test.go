package config

import (
	"errors"
	"testing"
)

// The fuzzers feed arbitrary text to the JSON variables. Load must never
// panic; it either fails with FieldErrors or returns a configuration whose
// invariants hold. Seeds live in testdata/fuzz.

func FuzzInterfaces(f *testing.F) {
	f.Add(`{"uplinkInterfaces":[{"interfaceName":"eth0","vppDriver":"af_packet"}]}`)
	f.Add(`{"defaultPodIfSpec":{"rx":2,"isl3":false},"uplinkInterfaces":[{"interfaceName":"eth1"},{"interfaceName":"eth0","isMain":true}]}`)
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, _, err := Load(env(EnvInterfaces, raw))
		if err != nil {
			checkFieldErrors(t, err)
			return
		}
		ups := cfg.Interfaces.UplinkInterfaces
		mains := 0
		for _, u := range ups {
			if u.IsMain {
				mains++
			}
			if u.InterfaceName == "" {
				t.Fatalf("accepted an uplink without a name: %+v", u)
			}
		}
		if len(ups) > 0 && (mains != 1 || !ups[0].IsMain) {
			t.Fatalf("main uplink invariant broken: %+v", ups)
		}
		if cfg.Interfaces.DefaultPodIfSpec.IsL3 == nil || cfg.Interfaces.DefaultPodIfSpec.NumRxQueues == 0 {
			t.Fatalf("defaults not filled: %+v", cfg.Interfaces.DefaultPodIfSpec)
		}
	})
}

func FuzzInitialConfig(f *testing.F) {
	f.Add(`{"defaultGWs":"198.18.0.1","redirectToHostRules":[{"proto":"udp","port":53,"ip":"198.18.0.53"}]}`)
	f.Add(`{"prometheusRecordMetricInterval":"10s","healthCheckPort":9090}`)
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, _, err := Load(env(EnvInitialConfig, raw))
		if err != nil {
			checkFieldErrors(t, err)
			return
		}
		if cfg.Initial.HealthCheckPort == 0 || cfg.Initial.PrometheusRecordMetricInterval.Duration <= 0 {
			t.Fatalf("invalid initial config accepted: %+v", cfg.Initial)
		}
	})
}

func FuzzFeatureGatesAndDebug(f *testing.F) {
	f.Add(`{"prometheusEnabled":true}`, `{"servicesEnabled":false}`)
	f.Fuzz(func(t *testing.T, gates, debug string) {
		_, _, err := Load(env(EnvFeatureGates, gates, EnvDebug, debug))
		if err != nil {
			checkFieldErrors(t, err)
		}
	})
}

// checkFieldErrors asserts every joined error is a *FieldError.
func checkFieldErrors(t *testing.T, err error) {
	t.Helper()
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("error %T is not joined FieldErrors: %v", err, err)
	}
	for _, e := range joined.Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %T is not a *FieldError: %v", e, e)
		}
	}
}
