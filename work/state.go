package work

import "strconv"

// State is a unit's state, numbered as in receptor.
type State int

// The states of a unit (receptor-control.md §4.2).
const (
	Pending   State = 0
	Running   State = 1
	Succeeded State = 2
	Failed    State = 3
	Canceled  State = 4
)

// String is receptor's StateName.
func (s State) String() string {
	switch s {
	case Pending:
		return "Pending"
	case Running:
		return "Running"
	case Succeeded:
		return "Succeeded"
	case Failed:
		return "Failed"
	case Canceled:
		return "Canceled"
	}
	return "Unknown: " + strconv.Itoa(int(s))
}

// Final reports whether a unit in state s will change no more. Unlike
// receptor's IsComplete it includes Canceled, so that nothing waits
// forever on a canceled unit.
func (s State) Final() bool { return s == Succeeded || s == Failed || s == Canceled }

// Status is a unit's status as stored in its status file, with receptor's
// field order.
type Status struct {
	State      State  `json:"State"`
	Detail     string `json:"Detail"`
	StdoutSize int64  `json:"StdoutSize"`
	WorkType   string `json:"WorkType"`
	ExtraData  any    `json:"ExtraData"`
}

// StatusReply is a status as the control service reports it: the stored
// fields plus StateName, keys in sorted order as receptor's map has them.
type StatusReply struct {
	Detail     string `json:"Detail"`
	ExtraData  any    `json:"ExtraData"`
	State      int    `json:"State"`
	StateName  string `json:"StateName"`
	StdoutSize int64  `json:"StdoutSize"`
	WorkType   string `json:"WorkType"`
}

// CommandExtra is the ExtraData of a command unit while its runner lives.
type CommandExtra struct {
	Pid    int    `json:"Pid"` // the command's PID, which is also its process group
	Params string `json:"Params"`
}
