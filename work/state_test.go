package work

import "testing"

func TestStateNames(t *testing.T) {
	for s, want := range map[State]string{
		Pending: "Pending", Running: "Running", Succeeded: "Succeeded",
		Failed: "Failed", Canceled: "Canceled", 7: "Unknown: 7",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, want)
		}
	}
	for s, final := range map[State]bool{Pending: false, Running: false, Succeeded: true, Failed: true, Canceled: true} {
		if s.Final() != final {
			t.Errorf("%v.Final() = %v, want %v", s, s.Final(), final)
		}
	}
}

func TestUnitIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newUnitID()
		if len(id) != unitIDLen || !validUnitID(id) {
			t.Fatalf("newUnitID() = %q: not 8 alphanumeric characters", id)
		}
		if seen[id] {
			t.Fatalf("newUnitID() repeated %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a b", "ab-c", string(make([]byte, 65))} {
		if validUnitID(bad) {
			t.Errorf("validUnitID(%q) = true", bad)
		}
	}
}
