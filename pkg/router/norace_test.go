//go:build !race

package router

// race tells tests that the race detector is on: it enlarges stack frames.
const race = false
