package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// frameBytes encodes one frame with an explicit length field, so tests can
// build frames WriteFrame would refuse.
func frameBytes(length uint32, typ byte, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, length)
	b = append(b, typ)
	return append(b, body...)
}

// readerFunc reads one frame through either FrameReader method, returning
// the body only, so every framing test runs against both.
type readerFunc func(fr *FrameReader) (byte, []byte, error)

var frameReaders = []struct {
	name string
	read readerFunc
}{
	{"ReadFrame", func(fr *FrameReader) (byte, []byte, error) {
		typ, body, err := fr.ReadFrame()
		if err != nil {
			if body != nil {
				return 0, nil, fmt.Errorf("non-nil body with error %v", err)
			}
			return 0, nil, err
		}
		b := bytes.Clone(body.B)
		PutBuf(body)
		return typ, b, nil
	}},
	{"ReadRawFrame", func(fr *FrameReader) (byte, []byte, error) {
		typ, frame, err := fr.ReadRawFrame()
		if err != nil {
			if frame != nil {
				return 0, nil, fmt.Errorf("non-nil frame with error %v", err)
			}
			return 0, nil, err
		}
		defer PutBuf(frame)
		if len(frame.B) < FrameHeaderLen {
			return 0, nil, fmt.Errorf("raw frame of %d bytes has no header", len(frame.B))
		}
		n := binary.BigEndian.Uint32(frame.B[:4])
		if int(n) != len(frame.B)-FrameHeaderLen+1 || frame.B[4] != typ {
			return 0, nil, fmt.Errorf("raw frame header % x does not match its %d bytes and type %d", frame.B[:5], len(frame.B), typ)
		}
		return typ, bytes.Clone(frame.B[FrameHeaderLen:]), nil
	}},
}

func TestFrameRoundTrip(t *testing.T) {
	type frame struct {
		typ  byte
		body []byte
	}
	frames := []frame{
		{FrameKeepalive, nil},
		{FrameHello, []byte("hello")},
		{FrameReject, []byte{}},
		{FrameRouted, bytes.Repeat([]byte{0xa5}, 511)},
		{FrameRouted, bytes.Repeat([]byte{0x5a}, 512)},
		{FrameLSA, bytes.Repeat([]byte{1}, 4<<10)},
		{FrameRouted, bytes.Repeat([]byte{2}, 40<<10+1)},
		{FrameRouted, bytes.Repeat([]byte{3}, MaxFrameSize-1)}, // largest allowed
		{0, []byte{0}},     // unknown types are framing-valid
		{255, []byte{255}}, // and left to the caller
		{FrameKeepalive, nil},
	}
	var stream bytes.Buffer
	for _, f := range frames {
		if err := WriteFrame(&stream, f.typ, f.body); err != nil {
			t.Fatalf("WriteFrame(%d, %d bytes): %v", f.typ, len(f.body), err)
		}
	}
	for _, r := range frameReaders {
		t.Run(r.name, func(t *testing.T) {
			// A reader that returns a few bytes per call, so frames straddle
			// the buffered reader's refills.
			fr := NewFrameReader(&chunkReader{data: stream.Bytes(), chunk: 4093})
			for i, want := range frames {
				typ, body, err := r.read(fr)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if typ != want.typ || !bytes.Equal(body, want.body) {
					t.Fatalf("frame %d: got type %d, %d bytes; want type %d, %d bytes", i, typ, len(body), want.typ, len(want.body))
				}
			}
			if _, _, err := r.read(fr); err != io.EOF {
				t.Fatalf("after the last frame: got %v, want io.EOF", err)
			}
		})
	}
}

// chunkReader returns at most chunk bytes per Read.
type chunkReader struct {
	data  []byte
	chunk int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.chunk, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// TestFramePooledReuse reads many frames of varied sizes, returning each
// body to the pool, and checks that a reused buffer never shows stale bytes
// or a wrong length.
func TestFramePooledReuse(t *testing.T) {
	var stream bytes.Buffer
	sizes := []int{0, 1, 600, 3, 5000, 7, 41000, 2, 512, 4096, 40 << 10, MaxFrameSize - 1, 0, 9}
	const rounds = 20
	for r := range rounds {
		for i, n := range sizes {
			if err := WriteFrame(&stream, byte(i), bytes.Repeat([]byte{byte(r*len(sizes) + i)}, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, rd := range []string{"ReadFrame", "ReadRawFrame"} {
		fr := NewFrameReader(bytes.NewReader(stream.Bytes()))
		for r := range rounds {
			for i, n := range sizes {
				var typ byte
				var body *Buf
				var err error
				off := 0
				if rd == "ReadFrame" {
					typ, body, err = fr.ReadFrame()
				} else {
					typ, body, err = fr.ReadRawFrame()
					off = FrameHeaderLen
				}
				if err != nil {
					t.Fatalf("%s round %d frame %d: %v", rd, r, i, err)
				}
				got := body.B[off:]
				if typ != byte(i) || len(got) != n || (n > 0 && !bytes.Equal(got, bytes.Repeat([]byte{byte(r*len(sizes) + i)}, n))) {
					t.Fatalf("%s round %d frame %d: type %d, %d bytes, want type %d, %d bytes of %d", rd, r, i, typ, len(got), i, n, byte(r*len(sizes)+i))
				}
				// Scribble over the buffer before returning it: the next
				// frame read into it must overwrite every byte it shows.
				for j := range body.B {
					body.B[j] = 0xEE
				}
				PutBuf(body)
			}
		}
		if _, _, err := fr.ReadFrame(); err != io.EOF {
			t.Fatalf("%s: got %v at the end, want io.EOF", rd, err)
		}
	}
}

func TestGetBuf(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 4 << 10, 4<<10 + 1, 40 << 10, 40<<10 + 1, MaxFrameSize, MaxFrameSize + FrameHeaderLen, MaxFrameSize + FrameHeaderLen + 1, 1 << 20} {
		b := GetBuf(n)
		if len(b.B) != n {
			t.Errorf("GetBuf(%d): len %d", n, len(b.B))
		}
		PutBuf(b)
		b = GetBuf(n)
		if len(b.B) != n {
			t.Errorf("GetBuf(%d) after PutBuf: len %d", n, len(b.B))
		}
		PutBuf(b)
	}
	PutBuf(nil) // must not panic
}

// TestPutBufShrunk: a caller that reslices b.B from the front shrinks its
// capacity; such a buffer must not go back into its pool, where a later
// GetBuf of the class size would panic.
func TestPutBufShrunk(t *testing.T) {
	for range 100 {
		b := GetBuf(MaxFrameSize)
		b.B = b.B[FrameHeaderLen:]
		PutBuf(b)
		c := GetBuf(MaxFrameSize) // panics if the shrunk buffer was pooled
		if len(c.B) != MaxFrameSize {
			t.Fatalf("len %d", len(c.B))
		}
		PutBuf(c)
	}
}

func TestReadFrameErrors(t *testing.T) {
	valid := frameBytes(3, FrameHello, []byte("ab"))
	tests := []struct {
		name  string
		input []byte
		valid int   // frames read successfully before the error
		want  error // errors.Is target
		text  string
	}{
		{"clean EOF", nil, 0, io.EOF, ""},
		{"clean EOF after frames", append(bytes.Clone(valid), valid...), 2, io.EOF, ""},
		{"empty frame", frameBytes(0, FrameHello, nil), 0, ErrEmptyFrame, ""},
		{"empty frame after a frame", append(bytes.Clone(valid), frameBytes(0, 0, nil)...), 1, ErrEmptyFrame, ""},
		{"oversize by one", frameBytes(MaxFrameSize+1, FrameRouted, nil), 0, ErrOversizeFrame, ""},
		{"oversize max uint32", frameBytes(0xFFFFFFFF, FrameRouted, []byte("x")), 0, ErrOversizeFrame, ""},
		{"truncated header 1", []byte{0}, 0, io.ErrUnexpectedEOF, "truncated frame header"},
		{"truncated header 4", []byte{0, 0, 0, 3}, 0, io.ErrUnexpectedEOF, "truncated frame header"},
		{"truncated header after frame", append(bytes.Clone(valid), 0, 0), 1, io.ErrUnexpectedEOF, "truncated frame header"},
		{"truncated body none", frameBytes(3, FrameHello, nil), 0, io.ErrUnexpectedEOF, "truncated frame body"},
		{"truncated body one short", frameBytes(3, FrameHello, []byte("a")), 0, io.ErrUnexpectedEOF, "truncated frame body"},
		{"truncated large body", frameBytes(MaxFrameSize, FrameRouted, make([]byte, 70000)), 0, io.ErrUnexpectedEOF, "truncated frame body"},
	}
	for _, r := range frameReaders {
		for _, tt := range tests {
			t.Run(r.name+"/"+tt.name, func(t *testing.T) {
				fr := NewFrameReader(bytes.NewReader(tt.input))
				for i := range tt.valid {
					if _, _, err := r.read(fr); err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
				}
				_, _, err := r.read(fr)
				if !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
				if tt.want == io.EOF && err != io.EOF {
					t.Fatalf("clean EOF must be io.EOF itself, got %#v", err)
				}
				if !strings.Contains(fmt.Sprint(err), tt.text) {
					t.Fatalf("error %q does not mention %q", err, tt.text)
				}
			})
		}
	}
}

// headerOnlyReader yields a frame header and fails the test if anything
// more is read.
type headerOnlyReader struct {
	t   *testing.T
	hdr []byte
}

func (h *headerOnlyReader) Read(p []byte) (int, error) {
	if len(h.hdr) == 0 {
		h.t.Error("the body of an oversize frame was read")
		return 0, io.ErrClosedPipe
	}
	n := copy(p, h.hdr)
	h.hdr = h.hdr[n:]
	return n, nil
}

// TestReadFrameOversizeFailsFast: an oversize length is refused from the
// header alone, without reading or allocating the body.
func TestReadFrameOversizeFailsFast(t *testing.T) {
	for _, r := range frameReaders {
		t.Run(r.name, func(t *testing.T) {
			fr := NewFrameReader(&headerOnlyReader{t: t, hdr: frameBytes(0xFFFFFFFF, FrameRouted, nil)})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := r.read(fr)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrOversizeFrame) {
				t.Fatalf("got %v, want ErrOversizeFrame", err)
			}
			// A 4 GiB claim; allocating even one frame's worth is a bug.
			if d := after.TotalAlloc - before.TotalAlloc; d > MaxFrameSize {
				t.Fatalf("oversize frame allocated %d bytes", d)
			}
		})
	}
}

func TestWriteFrameRefusesOversize(t *testing.T) {
	var buf bytes.Buffer
	err := WriteFrame(&buf, FrameRouted, make([]byte, MaxFrameSize))
	if !errors.Is(err, ErrOversizeFrame) {
		t.Fatalf("got %v, want ErrOversizeFrame", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("an oversize frame wrote %d bytes", buf.Len())
	}
	if err := WriteFrame(&buf, FrameRouted, make([]byte, MaxFrameSize-1)); err != nil {
		t.Fatalf("largest frame refused: %v", err)
	}
	if buf.Len() != FrameHeaderLen+MaxFrameSize-1 {
		t.Fatalf("largest frame wrote %d bytes", buf.Len())
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, io.ErrClosedPipe
	}
	f.after--
	return len(p), nil
}

func TestWriteFrameWriteError(t *testing.T) {
	for after := range 2 {
		if err := WriteFrame(&failWriter{after: after}, FrameHello, []byte("x")); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("failing after %d writes: got %v", after, err)
		}
	}
}

func TestAppendFrameHeader(t *testing.T) {
	got := AppendFrameHeader([]byte("pre"), FrameLSA, 258)
	want := []byte{'p', 'r', 'e', 0, 0, 1, 3, FrameLSA}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}
