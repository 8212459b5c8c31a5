// Package docs renders the manual pages vipd(8), vipctl(8) and vipd.toml(5)
// and the packaged configuration file from their one source each.
//
// vipd.toml(5) is configs/vipd.toml, the commented reference that a test of
// pkg/config keeps complete, turned into roff: its comments are the prose,
// its keys the entries. vipd(8) and vipctl(8) take their options and
// commands from the help the programs print (vipd -h, vipctl help). The
// pages are made at build time (make man, make deb, make install), so they
// cannot drift from the file and the flags.
//
// The packaged /etc/vipd/vipd.toml is the same reference with every setting
// commented out (Disabled): it configures nothing, and the unit's
// ExecCondition skips the service until a table is uncommented.
package docs
