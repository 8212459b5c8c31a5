// Package control is the local control API of vipd: a small versioned JSON
// API served over HTTP on a unix socket (DefaultSocket), and its client,
// used by vipctl.
//
// Endpoints, all under the version prefix /v1:
//
//	GET  /v1/status  → Status
//	POST /v1/drain   {"instances": ["name", ...]} → {"instances": [affected...]}
//	POST /v1/resume  {"instances": ["name", ...]} → {"instances": [affected...]}
//
// An empty instance list means every instance. Errors are JSON objects
// {"error": "..."} with status 400 (malformed request, unknown instance),
// 403 (a changing call from a peer that is not root), 404 (unknown path),
// 405 (wrong method) or 500 (the daemon failed).
//
// The socket is root's with mode 0660, but access is not left to file
// modes alone: the server reads the peer's credentials (SO_PEERCRED) of
// every connection, and refuses drain and resume to anyone but uid 0.
// Reading the status is open to whoever can connect.
//
// The daemon implements Backend; Listen and Server.Serve run the server
// as one of its tasks.
package control
