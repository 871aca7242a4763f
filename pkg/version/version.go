// Package version carries the build's version, set at link time by the
// Makefile (-X .../pkg/version.Version=...).
package version

// Version is the git description of the build; "dev" when not set.
var Version = "dev"
