// Package ctlsock is meshd's control service: it speaks Ansible Receptor's
// control-socket protocol so that receptorctl, socat, nc and AWX can drive
// a meshd node exactly as they drive a receptor node.
//
// A session starts with the greeting "Receptor Control, node <id>\n" and then
// reads "\n"-terminated command lines, one after another, each in plain text
// ("ping node3") or as a JSON object ({"command":"ping","target":"node3"}).
// Each command gets one reply line: compact JSON, or "ERROR: <message>".
// Commands may also take the connection over: connect bridges it to a mesh
// stream, and the work commands (registered later through Server.Register)
// read a payload or stream results. See spec/receptor-control.md §1-§3.
//
// The package is deliberately thin. It holds no state of its own beyond the
// bookkeeping of its sessions: every answer comes from the Mesh it is given
// (and, later, the work layer), and it never caches, routes or decides
// anything about the mesh. It must not grow protocol logic that belongs to
// those layers; it only parses, dispatches and formats.
//
// Where receptor misbehaves (spec §7), ctlsock does better: a status request
// whose requested_fields is not a list gets an ERROR line instead of killing
// the process, lists and objects are never sent as null, hostile clients
// (garbage, endless lines, silence, floods of connections) are answered with
// ERROR lines, cut off, and logged at a bounded rate.
package ctlsock
