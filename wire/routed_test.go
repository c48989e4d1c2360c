package wire

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

var allKinds = []byte{KindDatagram, KindUnreachable, KindStreamOpen, KindStreamAccept, KindStreamData, KindStreamCredit, KindStreamFin, KindStreamReset}

var streamKinds = []byte{KindStreamOpen, KindStreamAccept, KindStreamData, KindStreamCredit, KindStreamFin, KindStreamReset}

// readOneFrame reads the single frame in b.
func readOneFrame(t *testing.T, b []byte) (byte, []byte) {
	t.Helper()
	fr := NewFrameReader(bytes.NewReader(b))
	typ, body, err := fr.ReadFrame()
	if err != nil {
		t.Fatalf("ReadFrame: %v", err)
	}
	if _, _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("after the frame: %v, want EOF", err)
	}
	out := bytes.Clone(body.B)
	PutBuf(body)
	return typ, out
}

func TestRoutedRoundTrip(t *testing.T) {
	for _, kind := range allKinds {
		for _, tc := range []struct {
			hop      byte
			src, dst string
			rest     []byte
		}{
			{0, "a", "b", nil},
			{32, "node-1", "node-2", []byte("rest bytes")},
			{255, strings.Repeat("s", MaxNameLen), strings.Repeat("d", MaxNameLen), bytes.Repeat([]byte{7}, 1000)},
		} {
			b := AppendRouted([]byte("prefix"), tc.hop, kind, tc.src, tc.dst, len(tc.rest))
			b = append(b, tc.rest...)
			b = b[len("prefix"):]
			if len(b) != RoutedLen(tc.src, tc.dst, len(tc.rest)) {
				t.Fatalf("kind %d: frame of %d bytes, RoutedLen says %d", kind, len(b), RoutedLen(tc.src, tc.dst, len(tc.rest)))
			}
			typ, body := readOneFrame(t, b)
			if typ != FrameRouted {
				t.Fatalf("frame type %d", typ)
			}
			r, err := ParseRouted(body)
			if err != nil {
				t.Fatalf("kind %d: %v", kind, err)
			}
			if r.Hop != tc.hop || r.Kind != kind || string(r.Src) != tc.src || string(r.Dst) != tc.dst || !bytes.Equal(r.Rest, tc.rest) {
				t.Fatalf("kind %d: got %+v", kind, r)
			}
			// Transit nodes decrement the hop limit in place.
			if tc.hop > 0 {
				body[RoutedHopOffset]--
				if r2, _ := ParseRouted(body); r2.Hop != tc.hop-1 {
					t.Fatalf("hop after decrement: %d", r2.Hop)
				}
			}
			// Rest aliases the body: no copy on the data path.
			if len(r.Rest) > 0 && &r.Rest[0] != &body[len(body)-len(r.Rest)] {
				t.Fatal("Rest does not alias the body")
			}
		}
	}
}

func TestParseRoutedErrors(t *testing.T) {
	good := AppendRouted(nil, 9, KindDatagram, "src", "dst", 0)[FrameHeaderLen:]
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"empty src", []byte{1, KindDatagram, 0, 1, 'd'}, "empty node ID"},
		{"empty dst", []byte{1, KindDatagram, 1, 's', 0}, "empty node ID"},
		{"kind 0", []byte{1, 0, 1, 's', 1, 'd'}, "unknown kind 0"},
		{"kind 9", []byte{1, 9, 1, 's', 1, 'd'}, "unknown kind 9"},
		{"kind 255", []byte{1, 255, 1, 's', 1, 'd'}, "unknown kind 255"},
		{"src past end", []byte{1, KindDatagram, 200, 's'}, "truncated"},
	}
	for i := range len(good) {
		tests = append(tests, struct {
			name string
			body []byte
			want string
		}{fmt.Sprintf("prefix %d", i), good[:i], "truncated"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRouted(tt.body)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %+v, %v; want error mentioning %q", r, err, tt.want)
			}
		})
	}
}

func TestDatagramRoundTrip(t *testing.T) {
	for _, tc := range []struct{ src, dst, payload string }{
		{"", "", ""},
		{"ping", "echo", "hello"},
		{strings.Repeat("a", MaxNameLen), strings.Repeat("b", MaxNameLen), strings.Repeat("p", 10000)},
	} {
		rest := AppendDatagramRest(nil, tc.src, tc.dst)
		rest = append(rest, tc.payload...)
		if len(rest) != DatagramRestLen(tc.src, tc.dst, len(tc.payload)) {
			t.Fatalf("rest of %d bytes, DatagramRestLen says %d", len(rest), DatagramRestLen(tc.src, tc.dst, len(tc.payload)))
		}
		// The whole frame, as the mesh builds it.
		frame := AppendRouted(nil, 5, KindDatagram, "n1", "n2", len(rest))
		frame = append(frame, rest...)
		_, body := readOneFrame(t, frame)
		r, err := ParseRouted(body)
		if err != nil {
			t.Fatal(err)
		}
		dg, err := ParseDatagram(r.Rest)
		if err != nil {
			t.Fatal(err)
		}
		if string(dg.SrcService) != tc.src || string(dg.DstService) != tc.dst || string(dg.Payload) != tc.payload {
			t.Fatalf("got %q %q %d bytes", dg.SrcService, dg.DstService, len(dg.Payload))
		}
		// Every prefix shorter than the two services is truncated; longer
		// ones just carry less payload.
		fixed := DatagramRestLen(tc.src, tc.dst, 0)
		for i := range len(rest) {
			_, err := ParseDatagram(rest[:i])
			if (err != nil) != (i < fixed) {
				t.Fatalf("prefix %d of %d (services %d): %v", i, len(rest), fixed, err)
			}
		}
	}
}

func TestUnreachableRoundTrip(t *testing.T) {
	for _, u := range []Unreachable{
		{},
		{Kind: KindDatagram, SrcService: "ping", DstService: "echo", DstNode: "n9", Problem: "no route to n9"},
		{Kind: KindStreamData, StreamID: StreamAcceptorBit | 42, DstNode: "n2", Problem: strings.Repeat("p", 70000)[:65535]},
		{Kind: KindStreamOpen, StreamID: 1, SrcService: strings.Repeat("s", MaxNameLen), DstService: strings.Repeat("d", MaxNameLen), DstNode: strings.Repeat("n", MaxNameLen)},
	} {
		b := u.Marshal()
		got, err := ParseUnreachable(b)
		if err != nil {
			t.Fatal(err)
		}
		if got != u {
			t.Fatalf("got %+v, want %+v", got, u)
		}
		for i := range len(b) {
			if _, err := ParseUnreachable(b[:i]); err == nil {
				t.Fatalf("prefix %d accepted", i)
			}
		}
		if _, err := ParseUnreachable(append(bytes.Clone(b), 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
			t.Fatalf("trailing byte: %v", err)
		}
	}
}

// streamCases has one frame per stream kind with every field its kind
// carries set, and the fields it does not carry left zero.
var streamCases = []struct {
	kind byte
	f    StreamFrame
}{
	{KindStreamOpen, StreamFrame{ID: 1, Value: 65536, SrcService: "client", DstService: "control"}},
	{KindStreamOpen, StreamFrame{ID: 2, Value: 0, SrcService: "", DstService: strings.Repeat("d", MaxNameLen)}},
	{KindStreamAccept, StreamFrame{ID: StreamAcceptorBit | 1, Value: 1 << 20}},
	{KindStreamData, StreamFrame{ID: 3, Value: 0xFFFFFFFF, Payload: []byte("some data")}},
	{KindStreamData, StreamFrame{ID: 3, Value: 7, Payload: []byte{}}},
	{KindStreamCredit, StreamFrame{ID: 4, Value: 4096}},
	{KindStreamFin, StreamFrame{ID: 5, Value: 123456}},
	{KindStreamReset, StreamFrame{ID: 6, Reason: "connection refused"}},
	{KindStreamReset, StreamFrame{ID: 7, Reason: ""}},
}

func TestStreamFrameRoundTrip(t *testing.T) {
	for _, tc := range streamCases {
		t.Run(fmt.Sprint("kind", tc.kind), func(t *testing.T) {
			rest := AppendStreamRest([]byte("xx"), tc.kind, &tc.f)[2:]
			rest = append(rest, tc.f.Payload...)
			if n := StreamRestLen(tc.kind, &tc.f); n != len(rest) {
				t.Fatalf("StreamRestLen %d, but %d bytes appended", n, len(rest))
			}
			// Through a whole routed frame, as the mesh sends it.
			frame := AppendRouted(nil, 3, tc.kind, "a", "b", StreamRestLen(tc.kind, &tc.f))
			frame = AppendStreamRest(frame, tc.kind, &tc.f)
			frame = append(frame, tc.f.Payload...)
			_, body := readOneFrame(t, frame)
			r, err := ParseRouted(body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseStreamFrame(r.Kind, r.Rest)
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind == KindStreamData && len(got.Payload) == 0 {
				got.Payload = []byte{} // an empty payload may alias as nil or empty
			}
			if !reflect.DeepEqual(got, tc.f) {
				t.Fatalf("got %+v, want %+v", got, tc.f)
			}
			// Truncation: every prefix fails, except that data frames with
			// the fixed part complete just carry a shorter payload.
			for i := range len(rest) {
				_, err := ParseStreamFrame(tc.kind, rest[:i])
				wantErr := tc.kind != KindStreamData || i < 8
				if (err != nil) != wantErr {
					t.Fatalf("prefix %d of %d: %v", i, len(rest), err)
				}
			}
			_, err = ParseStreamFrame(tc.kind, append(bytes.Clone(rest), 0))
			if (err != nil) != (tc.kind != KindStreamData) {
				t.Fatalf("trailing byte: %v", err)
			}
		})
	}
}

// TestStreamRestLenEveryKind: for every kind byte, stream or not,
// StreamRestLen agrees with what AppendStreamRest writes.
func TestStreamRestLenEveryKind(t *testing.T) {
	f := StreamFrame{ID: 1, Value: 2, SrcService: "src", DstService: "dst", Reason: "why", Payload: []byte("payload")}
	for k := range 256 {
		kind := byte(k)
		n := len(AppendStreamRest(nil, kind, &f))
		if kind == KindStreamData {
			n += len(f.Payload)
		}
		if got := StreamRestLen(kind, &f); got != n {
			t.Errorf("kind %d: StreamRestLen %d, AppendStreamRest wrote %d", kind, got, n)
		}
	}
}

func TestParseStreamFrameNotStream(t *testing.T) {
	for _, kind := range []byte{0, KindDatagram, KindUnreachable, KindStreamReset + 1, 255} {
		_, err := ParseStreamFrame(kind, make([]byte, 16))
		if err == nil || !strings.Contains(err.Error(), "not a stream kind") {
			t.Errorf("kind %d: %v", kind, err)
		}
	}
}
