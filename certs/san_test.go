package certs

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

func TestParseSANNodeIDs(t *testing.T) {
	for _, tc := range []struct {
		name, hex string
		want      []string // nil: an error
	}{
		{"receptor", "301f82096c6f63616c686f7374a012060" + "92b0601040192081301a0050c03666f6f", []string{"foo"}},
		{"other type-id", "3015a013060a2b060104018237140203a0050c03666f6f", []string{}},
		{"long form", "308180a07e06092b0601040192081301a0710c6f" + strings.Repeat("61", 111), []string{strings.Repeat("a", 111)}},
		{"printable", "3012a010060" + "92b0601040192081301a003130178", []string{"x"}},
		{"empty name skipped", "3011a00f06092b0601040192081301a0020c00", []string{}},
		{"integer value", "3012a010060" + "92b0601040192081301a003020105", nil},
		{"truncated", "301f82096c6f63616c686f7374a01206", nil},
		{"trailing", "300000", nil},
		{"not a sequence", "0400", nil},
	} {
		b, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := ParseSANNodeIDs(b)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: got %q, want an error", tc.name, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
