// Package work runs work units: configured commands executed on this node
// (command units) or on another node of the mesh (remote units), with their
// state and output kept on disk under <datadir>/<nodeID>/<unitID>/.
//
// The layout and the status file follow receptor's workceptor (see
// receptor-control.md §4): a unit directory holds "status" (one JSON object,
// replaced atomically by rename), "stdin" (the payload) and "stdout" (the
// command's stdout and stderr, or the copy of a remote unit's output).
//
// A command unit runs under a detached runner process (meshd work-runner,
// in its own session; the command in a process group of its own) that
// outlives a restart of the node: the runner owns the status file while it
// works on the unit, and the node learns of the unit's end from the
// runner's report on their socket or, for a unit adopted after a restart,
// by waiting for the runner's lock on the unit directory. A runner serves
// one unit after another (see RunnerCommand).
//
// A remote unit speaks the control protocol to the "control" service of the
// executing node over a mesh stream, as receptor does, and mirrors that
// unit's state and output, resuming the output from its last byte after
// any break.
package work
