package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Human-readable output of `meshd ctl`, shaped like receptorctl's. Text
// that a node or a work unit chose (details, tags, errors) is printed on
// one line with control characters replaced, so it cannot forge lines or
// drive the terminal.

// ctlStatus is the reply to `status` (receptor-control.md §2.1).
type ctlStatus struct {
	NodeID          string
	Version         string
	SystemCPUCount  int
	SystemMemoryMiB uint64
	Connections     []struct {
		NodeID string
		Cost   float64
	}
	KnownConnectionCosts map[string]map[string]float64
	RoutingTable         map[string]string
	Advertisements       []ctlAdvertisement
}

type ctlAdvertisement struct {
	NodeID       string
	Service      string
	Time         string
	ConnType     int
	Tags         map[string]string
	WorkCommands []struct {
		WorkType string
		Secure   bool
	}
}

// printStatus prints a status reply: node, connections, known links,
// routes, services, work types, and any field it does not know.
func printStatus(w io.Writer, raw []byte) error {
	var st ctlStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("status reply: %w", err)
	}
	fmt.Fprintf(w, "Node ID: %s\nVersion: %s\nSystem CPU Count: %d\nSystem Memory MiB: %d\n",
		st.NodeID, oneLine(st.Version), st.SystemCPUCount, st.SystemMemoryMiB)
	width := statusWidth(&st)
	if len(st.Connections) > 0 {
		fmt.Fprintf(w, "\n%-*s Cost\n", width, "Connection")
		for _, c := range st.Connections {
			fmt.Fprintf(w, "%-*s %s\n", width, c.NodeID, formatCost(c.Cost))
		}
	}
	if len(st.KnownConnectionCosts) > 0 {
		fmt.Fprintf(w, "\n%-*s Known Connections\n", width, "Known Node")
		for _, n := range slices.Sorted(maps.Keys(st.KnownConnectionCosts)) {
			costs := st.KnownConnectionCosts[n]
			var peers []string
			for _, p := range slices.Sorted(maps.Keys(costs)) {
				peers = append(peers, p+" ("+formatCost(costs[p])+")")
			}
			fmt.Fprintf(w, "%-*s %s\n", width, n, strings.Join(peers, ", "))
		}
	}
	if len(st.RoutingTable) > 0 {
		fmt.Fprintf(w, "\n%-*s Via\n", width, "Route")
		for _, n := range slices.Sorted(maps.Keys(st.RoutingTable)) {
			fmt.Fprintf(w, "%-*s %s\n", width, n, st.RoutingTable[n])
		}
	}
	printAdvertisements(w, width, st.Advertisements)
	printWorkTypes(w, width, "Work Types", false, st.Advertisements)
	printWorkTypes(w, width, "Secure Work Types", true, st.Advertisements)
	return printUnknownStatusFields(w, raw)
}

// statusWidth is the width of the node column: 12, or the longest node ID.
func statusWidth(st *ctlStatus) int {
	width := 12
	grow := func(n string) { width = max(width, len(n)) }
	for _, c := range st.Connections {
		grow(c.NodeID)
	}
	for n := range st.KnownConnectionCosts {
		grow(n)
	}
	for n := range st.RoutingTable {
		grow(n)
	}
	for _, ad := range st.Advertisements {
		grow(ad.NodeID)
	}
	return width
}

func printAdvertisements(w io.Writer, width int, ads []ctlAdvertisement) {
	if len(ads) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-*s Service   Type       Last Seen             Tags\n", width, "Node")
	for _, ad := range ads {
		seen := ad.Time
		if t, err := time.Parse(time.RFC3339Nano, ad.Time); err == nil {
			seen = t.Format(time.DateTime)
		}
		fmt.Fprintf(w, "%-*s %-9s %-10s %-21s %s\n", width, ad.NodeID, oneLine(ad.Service),
			connTypeLabel(ad.ConnType), oneLine(seen), formatTags(ad.Tags))
	}
}

// printWorkTypes lists, per node, the work types whose Secure flag is
// secure, as receptorctl does.
func printWorkTypes(w io.Writer, width int, header string, secure bool, ads []ctlAdvertisement) {
	seen := map[string]bool{}
	for _, ad := range ads {
		var types []string
		for _, wc := range ad.WorkCommands {
			if wc.Secure == secure {
				types = append(types, oneLine(wc.WorkType))
			}
		}
		if len(types) == 0 || seen[ad.NodeID] {
			continue
		}
		if len(seen) == 0 {
			fmt.Fprintf(w, "\n%-*s %s\n", width, "Node", header)
		}
		seen[ad.NodeID] = true
		fmt.Fprintf(w, "%-*s %s\n", width, ad.NodeID, strings.Join(types, ", "))
	}
}

// printUnknownStatusFields prints the fields of a status reply that
// printStatus does not know, as JSON.
func printUnknownStatusFields(w io.Writer, raw []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return fmt.Errorf("status reply: %w", err)
	}
	for _, k := range []string{"NodeID", "Version", "SystemCPUCount", "SystemMemoryMiB", "Connections",
		"KnownConnectionCosts", "RoutingTable", "Advertisements"} {
		delete(all, k)
	}
	if len(all) == 0 {
		return nil
	}
	extra, err := json.MarshalIndent(all, "", "    ")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nAdditional data returned by the node:\n%s\n", extra)
	return nil
}

func connTypeLabel(t int) string {
	switch t {
	case 0:
		return "Datagram"
	case 1:
		return "Stream"
	case 2:
		return "StreamTLS"
	}
	return strconv.Itoa(t)
}

func formatTags(tags map[string]string) string {
	if len(tags) == 0 {
		return "-"
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		kv = append(kv, oneLine(k+"="+tags[k]))
	}
	return strings.Join(kv, ", ")
}

// formatCost prints a cost as Python prints a float: 1.0, 2.5.
func formatCost(c float64) string {
	s := strconv.FormatFloat(c, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

// printTraceroute prints one line per hop, in hop order; a failed hop goes
// to stderr and makes the exit status 2.
func printTraceroute(stdout, stderr io.Writer, raw []byte) error {
	var hops map[string]ctlPing
	if err := json.Unmarshal(raw, &hops); err != nil {
		return fmt.Errorf("traceroute reply: %w", err)
	}
	keys := slices.SortedFunc(maps.Keys(hops), func(a, b string) int {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA != nil || errB != nil {
			return strings.Compare(a, b)
		}
		return x - y
	})
	failed := false
	for _, k := range keys {
		h := hops[k]
		if h.Error != "" {
			failed = true
			fmt.Fprintf(stderr, "%s: Error %s from %s in %s\n", oneLine(k), oneLine(h.Error), h.From, h.TimeStr)
			continue
		}
		fmt.Fprintf(stdout, "%s: %s in %s\n", oneLine(k), h.From, h.TimeStr)
	}
	if failed {
		return ctlExit(2)
	}
	return nil
}

// ctlUnitStatus is a work unit's status object (receptor-control.md §4.3).
type ctlUnitStatus struct {
	State      int
	StateName  string
	Detail     string
	StdoutSize int64
	WorkType   string
	ExtraData  json.RawMessage
}

// name is StateName, or the name receptor gives State.
func (u *ctlUnitStatus) name() string {
	if u.StateName != "" {
		return oneLine(u.StateName)
	}
	names := []string{"Pending", "Running", "Succeeded", "Failed", "Canceled"}
	if u.State >= 0 && u.State < len(names) {
		return names[u.State]
	}
	return "Unknown: " + strconv.Itoa(u.State)
}

// printWorkList prints a `work list` reply: a header, then one line per
// unit, sorted by ID.
func printWorkList(w io.Writer, raw []byte) error {
	var units map[string]ctlUnitStatus
	if err := json.Unmarshal(raw, &units); err != nil {
		return fmt.Errorf("work list reply: %w", err)
	}
	if len(units) == 0 {
		_, err := fmt.Fprintln(w, "No work units.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tState\tWorkType\tStdoutSize\tDetail")
	for _, id := range slices.Sorted(maps.Keys(units)) {
		u := units[id]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", oneLine(id), u.name(), oneLine(u.WorkType), u.StdoutSize, oneLine(u.Detail))
	}
	return tw.Flush()
}

// printUnitStatus prints a `work status` reply.
func printUnitStatus(w io.Writer, id string, raw []byte) error {
	var u ctlUnitStatus
	if err := json.Unmarshal(raw, &u); err != nil {
		return fmt.Errorf("work status reply: %w", err)
	}
	fmt.Fprintf(w, "Unit ID:     %s\nState:       %s (%d)\nWork Type:   %s\nStdout Size: %d\nDetail:      %s\n",
		oneLine(id), u.name(), u.State, oneLine(u.WorkType), u.StdoutSize, oneLine(u.Detail))
	if len(u.ExtraData) > 0 && string(u.ExtraData) != "null" {
		fmt.Fprintf(w, "Extra Data:  %s\n", oneLine(string(u.ExtraData)))
	}
	return nil
}

// oneLine replaces control characters, so text from a node stays on one
// line and cannot send terminal escapes.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
