// Package felixproxy will hold felix-proxy, which relays Felix's external
// dataplane messages to the agent. Not implemented yet.
package felixproxy
