package certs

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

// FuzzNodeIDs feeds raw subjectAltName extension values to the parser: it
// must never panic, stay within MaxNodeIDs, and what it accepts must
// re-encode to names it reads back the same.
func FuzzNodeIDs(f *testing.F) {
	seed := func(s string) {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// receptor's bytes for dNSName=localhost, node=foo
	seed("30 1f 82 09 6c6f63616c686f7374 a0 12 06 09 2b0601040192081301 a0 05 0c 03 666f6f")
	// one otherName node1, as openssl writes it
	seed("30 16 a0 14 06 09 2b0601040192081301 a0 07 0c 05 6e6f646531")
	// an otherName of another type-id (UPN 1.3.6.1.4.1.311.20.2.3), skipped
	seed("30 15 a0 13 06 0a 2b060104018237140203 a0 05 0c 03 666f6f")
	// truncated: the outer length claims more than there is
	seed("30 1f 82 09 6c6f63616c686f7374 a0 12 06 09")
	// inner [0] EXPLICIT holding an INTEGER, not a string
	seed("30 12 a0 10 06 09 2b0601040192081301 a0 03 02 01 05")
	// long-form lengths (receptor's encoder breaks here; DER allows it)
	seed("30 81 80 a0 7e 06 09 2b0601040192081301 a0 71 0c 6f" + strings.Repeat("61", 111))
	// empty sequence, empty input, trailing garbage
	seed("30 00")
	seed("")
	seed("30 00 00")
	for _, ids := range [][]string{{"a", "b", "c"}, {""}, {"ünïcode"}} {
		b, _ := MarshalSAN([]string{"x"}, nil, ids)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, ext []byte) {
		ids, err := ParseSANNodeIDs(ext)
		if err != nil {
			return
		}
		if len(ids) > MaxNodeIDs {
			t.Fatalf("%d node IDs, more than MaxNodeIDs", len(ids))
		}
		again, err := MarshalSAN(nil, nil, ids)
		if err != nil {
			t.Fatalf("re-encode %q: %v", ids, err)
		}
		back, err := ParseSANNodeIDs(again)
		if err != nil || !slices.Equal(back, ids) {
			t.Fatalf("round trip %q -> %q, %v", ids, back, err)
		}
	})
}
