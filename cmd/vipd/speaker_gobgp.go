//go:build bgp

package main

import (
	"log/slog"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/bgp/gobgp"
	"github.com/vipd/vipd/pkg/daemon"
)

// newSpeaker is GoBGP's speaker: this vipd is built with the bgp tag.
var newSpeaker = func(cfg bgp.Config, log *slog.Logger) daemon.Speaker { return gobgp.New(cfg, log) }
