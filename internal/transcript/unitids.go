package transcript

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// UnitIDs maps the unit IDs a transcript holds to the ones the server gives
// in this run. Replay learns the mapping from server lines (see Learn) and
// writes the live IDs into the client bytes it sends (see Substitute), so a
// transcript that submits a unit and then asks for its status or results
// replays against a server that chose another ID. One UnitIDs can span
// several transcripts replayed against the same nodes, in order.
//
// The mapping is kept one to one: an ID of the transcript that the server
// names differently from what it learned earlier, or two transcript IDs
// that the server gives the same ID, is an error. So although DefaultMask
// hides unit IDs, a replay with UnitIDs still checks that the server names
// the same unit wherever the transcript does.
type UnitIDs struct {
	live   map[string]string // transcript ID -> live ID
	byLive map[string]string // live ID -> transcript ID
}

// NewUnitIDs returns an empty mapping.
func NewUnitIDs() *UnitIDs {
	return &UnitIDs{live: map[string]string{}, byLive: map[string]string{}}
}

// Live returns the live ID learned for a transcript's unit ID.
func (m *UnitIDs) Live(id string) (string, bool) {
	s, ok := m.live[id]
	return s, ok
}

// Len is the number of IDs learned.
func (m *UnitIDs) Len() int { return len(m.live) }

// Learn pairs the unit IDs of an expected server line (want) with those at
// the same places in the line the server sent (got), and records every new
// pair. The places are those DefaultMask masks: "Work unit created with ID
// X", "work unit X" in text, the values of "unitid", "RemoteUnitID",
// "cancelled" and the like, and the keys of a `work list` reply (paired by
// their masked values, since the reply orders them by ID). Call it only for
// lines whose masked forms are equal.
func (m *UnitIDs) Learn(want, got []byte) error {
	var p idPairs
	if err := p.lines(want, got); err != nil {
		return err
	}
	for _, pair := range p.pairs {
		if err := m.add(pair[0], pair[1]); err != nil {
			return err
		}
	}
	for _, tie := range p.ties {
		if err := m.checkTie(tie[0], tie[1]); err != nil {
			return err
		}
	}
	return nil
}

// checkTie checks entries of a work list that only their IDs tell apart:
// each transcript ID must be known already and the live IDs must be the
// ones it stands for.
func (m *UnitIDs) checkTie(tids, lids []string) error {
	var mapped []string
	for _, tid := range tids {
		lid, ok := m.live[tid]
		if !ok {
			return fmt.Errorf("work list: units %s look alike and %s was never named before: cannot tell which live unit it is", strings.Join(tids, ", "), tid)
		}
		mapped = append(mapped, lid)
	}
	sort.Strings(mapped)
	lids = slices.Sorted(slices.Values(lids))
	if !slices.Equal(mapped, lids) {
		return fmt.Errorf("work list: the transcript's units %s are %s in this run, but the server lists %s", strings.Join(tids, ", "), strings.Join(mapped, ", "), strings.Join(lids, ", "))
	}
	return nil
}

func (m *UnitIDs) add(tid, lid string) error {
	if old, ok := m.live[tid]; ok {
		if old != lid {
			return fmt.Errorf("unit %s of the transcript is %s in this run, but the server now names %s there", tid, old, lid)
		}
		return nil
	}
	if old, ok := m.byLive[lid]; ok {
		return fmt.Errorf("the server names unit %s where the transcript has %s, but %s already stands for the transcript's %s", lid, tid, lid, old)
	}
	m.live[tid], m.byLive[lid] = lid, tid
	return nil
}

// alnumRun is a maximal run of the characters unit IDs are made of.
var alnumRun = regexp.MustCompile(`[A-Za-z0-9]+`)

// Substitute returns data with every learned transcript unit ID that
// stands as a whole word (not inside a longer alphanumeric run) replaced by
// its live ID. IDs are 8 characters both ways, so lengths are unchanged.
func (m *UnitIDs) Substitute(data []byte) []byte {
	if len(m.live) == 0 {
		return data
	}
	return alnumRun.ReplaceAllFunc(data, func(word []byte) []byte {
		if lid, ok := m.live[string(word)]; ok {
			return []byte(lid)
		}
		return word
	})
}

// idPairs collects the unit IDs found at the same places of an expected
// and a received line.
type idPairs struct {
	pairs [][2]string   // (transcript ID, live ID)
	ties  [][2][]string // work list entries that look alike: (transcript IDs, live IDs)
}

func (p *idPairs) lines(want, got []byte) error {
	tw, tg := unitIDText.FindAll(want, -1), unitIDText.FindAll(got, -1)
	if len(tw) != len(tg) {
		return fmt.Errorf("unit IDs: %d in the transcript's line, %d in the server's", len(tw), len(tg))
	}
	for i := range tw {
		p.pairs = append(p.pairs, [2]string{idOf(tw[i]), idOf(tg[i])})
	}
	bw, _ := bytes.CutSuffix(want, []byte("\n"))
	bg, _ := bytes.CutSuffix(got, []byte("\n"))
	if len(bw) == 0 || bw[0] != '{' || len(bg) == 0 || bg[0] != '{' {
		return nil
	}
	nw, errw := parseOrdered(bw)
	ng, errg := parseOrdered(bg)
	if errw != nil || errg != nil {
		return nil // compared as text
	}
	p.nodes(nw, ng)
	return nil
}

// idOf is the ID at the end of a unitIDText match.
func idOf(match []byte) string {
	s := string(match)
	return s[strings.LastIndexByte(s, ' ')+1:]
}

// nodes walks two JSON values of the same masked shape in parallel.
func (p *idPairs) nodes(w, g *node) {
	if w.kind != g.kind {
		return // the masked comparison decides; nothing to pair
	}
	switch w.kind {
	case '[':
		for i := range min(len(w.vals), len(g.vals)) {
			p.nodes(w.vals[i], g.vals[i])
		}
	case '{':
		if isWorkList(w) && isWorkList(g) {
			p.workList(w, g)
			return
		}
		for i := range min(len(w.keys), len(g.keys)) {
			key := w.key(i)
			if key != g.key(i) {
				continue
			}
			if unitIDKeys[key] {
				sw, okw := w.vals[i].str()
				sg, okg := g.vals[i].str()
				if okw && okg && unitIDRe.MatchString(sw) && unitIDRe.MatchString(sg) {
					p.pairs = append(p.pairs, [2]string{sw, sg})
				}
				continue
			}
			p.nodes(w.vals[i], g.vals[i])
		}
	}
}

// workList pairs the entries of two `work list` replies by their masked
// values, the order DefaultMask gives them. Entries whose masked values
// are equal can only be told apart by IDs learned before: they make a tie.
func (p *idPairs) workList(w, g *node) {
	if len(w.keys) != len(g.keys) {
		return
	}
	ew, eg := listEntries(w), listEntries(g)
	for i := 0; i < len(ew); {
		j := i + 1
		for j < len(ew) && ew[j].masked == ew[i].masked {
			j++
		}
		if j-i == 1 {
			p.pairs = append(p.pairs, [2]string{ew[i].id, eg[i].id})
			p.nodes(ew[i].val, eg[i].val)
		} else {
			var tids, lids []string
			for k := i; k < j; k++ {
				tids, lids = append(tids, ew[k].id), append(lids, eg[k].id)
			}
			p.ties = append(p.ties, [2][]string{tids, lids})
		}
		i = j
	}
}

type listEntry struct {
	id     string
	val    *node
	masked string
}

// listEntries returns a work list's entries ordered by masked value.
func listEntries(n *node) []listEntry {
	out := make([]listEntry, len(n.keys))
	for i := range n.keys {
		out[i] = listEntry{id: n.key(i), val: n.vals[i], masked: string(DefaultMask(n.vals[i].bytes()))}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].masked < out[b].masked })
	return out
}
