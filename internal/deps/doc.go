// Package deps keeps the module's dependencies pointing one way: its test
// fails when a package that parses configuration, talks to vipd or decides
// VRRP links netlink or raw sockets.
package deps
