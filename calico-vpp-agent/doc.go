// Package agent will hold calico-vpp-agent's wiring and its routing, CNI,
// services and policy managers. Not implemented yet (issues 5, 6, 7).
package agent
