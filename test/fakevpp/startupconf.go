package fakevpp

import (
	"fmt"
	"strings"
)

// StartupConfig is what fakevpp takes from VPP's startup.conf.
type StartupConfig struct {
	APISocket  string // socksvr { socket-name }
	PIDFile    string // unix { pidfile }
	Exec       string // unix { exec }: CLI commands run at start
	RuntimeDir string
	LogFile    string
	DPDK       []DPDKDevice
	PluginPath string
}

// confNode is one "word args... { children }" item of VPP's config syntax.
type confNode struct {
	words    []string
	children []*confNode
}

// knownSections are the top-level sections VPP 25.10 accepts (each is a
// VLIB_CONFIG_FUNCTION or an early config of vlib/vpp or a plugin).
func knownSections() map[string]bool {
	names := "unix api-trace api-segment socksvr cpu buffers memory statseg plugins dpdk logging heapsize " +
		"punt session tcp ip ip6 l2learn l2fib physmem node vlib api-queue acl-plugin nat cnat " +
		"af_packet af_xdp tuntap vhost-user linux-cp ipsec"
	m := map[string]bool{}
	for _, n := range strings.Fields(names) {
		m[n] = true
	}
	return m
}

func tokenize(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.ReplaceAll(line, "{", " { ")
		line = strings.ReplaceAll(line, "}", " } ")
		for _, tok := range strings.Fields(line) {
			if strings.HasPrefix(tok, "#") {
				break // a comment runs to the end of the line
			}
			out = append(out, tok)
		}
	}
	return out
}

// parseBlock reads items until a closing brace (or the end at top level).
func parseBlock(tokens []string, pos int, top bool) ([]*confNode, int, error) {
	var nodes []*confNode
	var cur *confNode
	for pos < len(tokens) {
		tok := tokens[pos]
		switch tok {
		case "{":
			if cur == nil {
				return nil, pos, fmt.Errorf("unexpected '{'")
			}
			children, next, err := parseBlock(tokens, pos+1, false)
			if err != nil {
				return nil, next, err
			}
			cur.children = children
			nodes = append(nodes, cur)
			cur = nil
			pos = next
		case "}":
			if top {
				return nil, pos, fmt.Errorf("unexpected '}'")
			}
			if cur != nil {
				nodes = append(nodes, cur)
			}
			return nodes, pos + 1, nil
		default:
			if top && cur != nil {
				// "section value" without braces (heapsize 2G).
				cur.words = append(cur.words, tok)
				nodes = append(nodes, cur)
				cur = nil
				pos++
				continue
			}
			if cur == nil {
				cur = &confNode{}
			}
			cur.words = append(cur.words, tok)
			if !top {
				// Inside a section, items are words; a following '{' opens
				// the last word's block (dev 0000:00:04.0 { name eth0 }).
				if pos+1 < len(tokens) && tokens[pos+1] == "{" {
					pos++
					continue
				}
				nodes = append(nodes, cur)
				cur = nil
			}
			pos++
		}
	}
	if !top {
		return nil, pos, fmt.Errorf("missing '}'")
	}
	if cur != nil {
		return nil, pos, fmt.Errorf("unknown input `%s'", strings.Join(cur.words, " "))
	}
	return nodes, pos, nil
}

// ParseStartupConfig parses startup.conf text; unknown sections and
// malformed syntax are errors, as they make VPP exit at start.
func ParseStartupConfig(text string) (StartupConfig, error) {
	cfg := StartupConfig{APISocket: "/run/vpp/api.sock"}
	nodes, _, err := parseBlock(tokenize(text), 0, true)
	if err != nil {
		return cfg, err
	}
	known := knownSections()
	for _, n := range nodes {
		section := n.words[0]
		if !known[section] {
			return cfg, fmt.Errorf("unknown input `%s'", strings.Join(n.words, " "))
		}
		items := flatten(n.children)
		switch section {
		case "unix":
			if err := cfg.unix(items); err != nil {
				return cfg, err
			}
		case "socksvr":
			for i := 0; i < len(items); i++ {
				switch items[i].word {
				case "default":
					cfg.APISocket = "/run/vpp/api.sock"
				case "socket-name":
					if i+1 >= len(items) {
						return cfg, fmt.Errorf("socksvr: socket-name needs a path")
					}
					cfg.APISocket = items[i+1].word
					i++
				default:
					return cfg, fmt.Errorf("socksvr: unknown input `%s'", items[i].word)
				}
			}
		case "dpdk":
			// Items are single words; "dev <pci> [{ name <n> ... }]".
			kids := n.children
			for i := 0; i+1 < len(kids); i++ {
				if kids[i].words[0] != "dev" || kids[i+1].words[0] == "default" {
					continue
				}
				d := DPDKDevice{PCI: kids[i+1].words[0]}
				sub := flatten(kids[i+1].children)
				for j := 0; j+1 < len(sub); j++ {
					if sub[j].word == "name" {
						d.Name = sub[j+1].word
					}
				}
				cfg.DPDK = append(cfg.DPDK, d)
				i++
			}
		case "plugins":
			for i := 0; i < len(items); i++ {
				if items[i].word == "path" && i+1 < len(items) {
					cfg.PluginPath = items[i+1].word
					i++
				}
			}
		}
	}
	return cfg, nil
}

type confItem struct{ word string }

func flatten(nodes []*confNode) []confItem {
	var out []confItem
	for _, n := range nodes {
		for _, w := range n.words {
			out = append(out, confItem{w})
		}
	}
	return out
}

func (cfg *StartupConfig) unix(items []confItem) error {
	withArg := map[string]*string{
		"pidfile": &cfg.PIDFile, "exec": &cfg.Exec, "startup-config": &cfg.Exec, "runtime-dir": &cfg.RuntimeDir,
		"log": &cfg.LogFile, "cli-listen": nil, "gid": nil, "coredump-size": nil, "cli-prompt": nil, "cli-history-limit": nil,
	}
	flags := map[string]bool{"nodaemon": true, "interactive": true, "full-coredump": true, "nosyslog": true,
		"cli-no-banner": true, "cli-no-pager": true, "poll-sleep-usec": false}
	for i := 0; i < len(items); i++ {
		w := items[i].word
		if flags[w] {
			continue
		}
		dst, ok := withArg[w]
		if !ok && w != "poll-sleep-usec" {
			return fmt.Errorf("unix: unknown input `%s'", w)
		}
		if i+1 >= len(items) {
			return fmt.Errorf("unix: %s needs an argument", w)
		}
		if dst != nil {
			*dst = items[i+1].word
		}
		i++
	}
	return nil
}
