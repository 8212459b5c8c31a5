//go:build !bgp

package main

import (
	"log/slog"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/daemon"
)

// newSpeaker is nil: built without the bgp tag, vipd leaves GoBGP out (7
// MiB) and refuses announce = "bgp".
var newSpeaker func(cfg bgp.Config, log *slog.Logger) daemon.Speaker
