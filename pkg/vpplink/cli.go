package vpplink

import (
	"context"

	"go.fd.io/govpp/binapi/vlib"
)

// CLI runs a VPP debug CLI command (as vppctl would) and returns its output.
func (v *VPP) CLI(ctx context.Context, cmd string) (string, error) {
	reply, err := vlib.NewServiceClient(v.conn).CliInband(ctx, &vlib.CliInband{Cmd: cmd})
	if err != nil {
		return "", wrap("run cli", cmd, err)
	}
	return reply.Reply, nil
}
