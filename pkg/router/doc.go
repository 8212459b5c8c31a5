// Package router runs VRRP virtual routers.
//
// A Listener reads the shared VRRP socket of one interface and address
// family, checks each packet and hands accepted advertisements to the
// Router of their VRID. A Router feeds them and its timer to a
// vrrp.Machine and carries out the actions the machine returns: send
// advertisements, bind, announce and unbind VIPs, and guard them.
//
// Each concern has its own lock: the machine and its actions (router.go,
// actions.go, timers.go) one mutex, the requests waiting for the Run
// goroutine (requests.go) another, the status readers copy (status.go) a
// third; counters are atomic, and the configuration is replaced whole,
// never changed. A transition is handed out as a status snapshot taken
// after the state changed.
//
// Sockets, addresses and announcements are reached through small interfaces
// declared here, so tests run routers against fakes in a synctest bubble.
package router
