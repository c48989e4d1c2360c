package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestHelloRoundTrip(t *testing.T) {
	for _, h := range []Hello{
		{Version: ProtocolVersion, NodeID: "a", Cost: 1},
		{Version: ProtocolVersion, NodeID: "node-with.punctuation_1", Cost: 0.001},
		{Version: ProtocolVersion, NodeID: strings.Repeat("x", MaxNameLen), Cost: math.MaxFloat64},
		{Version: ProtocolVersion, NodeID: "tiny", Cost: math.SmallestNonzeroFloat64},
	} {
		b := h.Marshal()
		got, err := ParseHello(b)
		if err != nil {
			t.Fatalf("ParseHello(%+v): %v", h, err)
		}
		if got != h {
			t.Fatalf("got %+v, want %+v", got, h)
		}
		if !bytes.Equal(got.Marshal(), b) {
			t.Fatalf("re-marshal of %+v differs", h)
		}
	}
}

// helloBytes builds a hello body field by field.
func helloBytes(magic string, version byte, id string, costBits uint64) []byte {
	b := append([]byte(magic), version)
	b = appendStr8(b, id)
	return binary.BigEndian.AppendUint64(b, costBits)
}

func TestParseHelloErrors(t *testing.T) {
	one := math.Float64bits(1)
	good := helloBytes(helloMagic, ProtocolVersion, "n1", one)
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"short magic", []byte("MES"), "bad magic"},
		{"bad magic", helloBytes("MESHX", ProtocolVersion, "n1", one), "bad magic"},
		{"receptor-ish", []byte(`{"cmd":"routing"}`), "bad magic"},
		{"version 0", helloBytes(helloMagic, 0, "n1", one), "unsupported protocol version 0"},
		{"version 2", helloBytes(helloMagic, 2, "n1", one), "unsupported protocol version 2"},
		{"empty id", helloBytes(helloMagic, ProtocolVersion, "", one), "empty node ID"},
		{"NaN cost", helloBytes(helloMagic, ProtocolVersion, "n1", math.Float64bits(math.NaN())), "invalid cost"},
		{"zero cost", helloBytes(helloMagic, ProtocolVersion, "n1", 0), "invalid cost"},
		{"negative zero cost", helloBytes(helloMagic, ProtocolVersion, "n1", math.Float64bits(math.Copysign(0, -1))), "invalid cost"},
		{"negative cost", helloBytes(helloMagic, ProtocolVersion, "n1", math.Float64bits(-1)), "invalid cost"},
		{"+Inf cost", helloBytes(helloMagic, ProtocolVersion, "n1", math.Float64bits(math.Inf(1))), "invalid cost"},
		{"-Inf cost", helloBytes(helloMagic, ProtocolVersion, "n1", math.Float64bits(math.Inf(-1))), "invalid cost"},
		{"trailing byte", append(bytes.Clone(good), 0), "1 bytes of trailing garbage"},
		{"trailing bytes", append(bytes.Clone(good), "more"...), "4 bytes of trailing garbage"},
	}
	// Every strict prefix of a good hello is truncated (or bad magic).
	for i := range len(good) {
		want := "truncated"
		if i < len(helloMagic) {
			want = "bad magic"
		}
		tests = append(tests, struct {
			name string
			body []byte
			want string
		}{fmt.Sprintf("prefix %d", i), good[:i], want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHello(tt.body)
			if err == nil {
				t.Fatalf("accepted %+v", h)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "hello: ") {
				t.Fatalf("error %q, want it to start with \"hello: \" and mention %q", err, tt.want)
			}
			if h != (Hello{}) {
				t.Fatalf("error with non-zero hello %+v", h)
			}
		})
	}
}

func TestValidCost(t *testing.T) {
	for c, want := range map[float64]bool{
		1: true, 0.5: true, math.MaxFloat64: true, math.SmallestNonzeroFloat64: true,
		0: false, -1: false, math.Inf(1): false, math.Inf(-1): false, -math.SmallestNonzeroFloat64: false,
	} {
		if got := ValidCost(c); got != want {
			t.Errorf("ValidCost(%v) = %v", c, got)
		}
	}
	if ValidCost(math.NaN()) {
		t.Error("ValidCost(NaN) = true")
	}
}

func TestCheckName(t *testing.T) {
	if err := CheckName("node ID", ""); err == nil || !strings.Contains(err.Error(), "empty node ID") {
		t.Errorf("empty: %v", err)
	}
	if err := CheckName("service name", strings.Repeat("s", MaxNameLen+1)); err == nil || !strings.Contains(err.Error(), "service name") {
		t.Errorf("too long: %v", err)
	}
	if err := CheckName("node ID", strings.Repeat("s", MaxNameLen)); err != nil {
		t.Errorf("longest: %v", err)
	}
}
