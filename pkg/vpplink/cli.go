package vpplink

import (
	"context"

	"go.fd.io/govpp/binapi/vlib"
)

// CLI runs a VPP debug CLI command (as vppctl would) and returns its
// output. When VPP refuses the command, the output (VPP's error text) comes
// back with the error.
func (v *VPP) CLI(ctx context.Context, cmd string) (string, error) {
	reply, err := vlib.NewServiceClient(v.conn).CliInband(ctx, &vlib.CliInband{Cmd: cmd})
	if err != nil {
		if reply != nil {
			return reply.Reply, wrap("run cli", cmd, err)
		}
		return "", wrap("run cli", cmd, err)
	}
	return reply.Reply, nil
}
