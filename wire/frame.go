package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame types. Each constant documents its body layout.
const (
	// FrameHello: see Hello.Marshal. First frame on a link, both directions.
	FrameHello byte = 1
	// FrameLSA: a signed link-state advertisement, see LSA.Marshal.
	// Forwarded byte for byte by flooding.
	FrameLSA byte = 2
	// FrameRouted: a data-plane frame addressed to a node, see RoutedHeader.
	FrameRouted byte = 3
	// FrameKeepalive: empty body; proves the link is alive.
	FrameKeepalive byte = 4
	// FrameReject: UTF-8 reason; the sender closes the link after it.
	FrameReject byte = 5
	// FrameIdentity: see IdentityProof. In CA mode (X509), the first frame
	// on a link, both directions, before the hello.
	FrameIdentity byte = 6
	// FrameIdentityAd: a node's certificate binding its Ed25519 key, see
	// IdentityAd. Flooded like LSAs, byte for byte, in CA mode.
	FrameIdentityAd byte = 7
)

// MaxFrameSize bounds type+body of any frame. Stream data is cut into
// chunks well below it, so a frame never needs more.
const MaxFrameSize = 128 << 10

// Errors returned by ReadFrame for malformed framing. A link that produces
// one of these is cut off.
var (
	ErrEmptyFrame    = errors.New("empty frame")
	ErrOversizeFrame = errors.New("oversize frame")
)

// FrameReader reads frames from a buffered link.
type FrameReader struct {
	r   *bufio.Reader
	hdr [5]byte
}

// NewFrameReader wraps r with a buffer large enough to batch many frames
// per read system call.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// ReadFrame reads one frame. The body is read into a buffer from GetBuf;
// the caller owns it and returns it with PutBuf when done.
func (fr *FrameReader) ReadFrame() (typ byte, body *Buf, err error) {
	n, err := fr.readHeader()
	if err != nil {
		return 0, nil, err
	}
	body = GetBuf(n)
	if err := fr.readBody(body.B); err != nil {
		PutBuf(body)
		return 0, nil, err
	}
	return fr.hdr[4], body, nil
}

// ReadRawFrame reads one frame and returns it whole, header included, so a
// routed frame can be queued on another link without copying: frame.B[0:5]
// is the header and frame.B[5:] the body. The caller owns frame.
func (fr *FrameReader) ReadRawFrame() (typ byte, frame *Buf, err error) {
	n, err := fr.readHeader()
	if err != nil {
		return 0, nil, err
	}
	frame = GetBuf(FrameHeaderLen + n)
	copy(frame.B, fr.hdr[:])
	if err := fr.readBody(frame.B[FrameHeaderLen:]); err != nil {
		PutBuf(frame)
		return 0, nil, err
	}
	return fr.hdr[4], frame, nil
}

// readHeader reads and checks a frame header, returning the body length.
// An oversize frame fails here, before any of its body is read.
func (fr *FrameReader) readHeader() (int, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("truncated frame header: %w", err)
		}
		return 0, err
	}
	n := binary.BigEndian.Uint32(fr.hdr[:4])
	if n == 0 {
		return 0, ErrEmptyFrame
	}
	if n > MaxFrameSize {
		return 0, fmt.Errorf("%w: %d bytes (max %d)", ErrOversizeFrame, n, MaxFrameSize)
	}
	return int(n - 1), nil
}

func (fr *FrameReader) readBody(b []byte) error {
	if _, err := io.ReadFull(fr.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("truncated frame body: %w", err)
	}
	return nil
}

// AppendFrameHeader appends the 5-byte header of a frame whose body is
// bodyLen bytes long.
func AppendFrameHeader(dst []byte, typ byte, bodyLen int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(bodyLen+1))
	return append(dst, typ)
}

// FrameHeaderLen is the size of the length and type prefix.
const FrameHeaderLen = 5

// WriteFrame writes one complete frame; it refuses oversize bodies so a
// bug can never desynchronise a link.
func WriteFrame(w io.Writer, typ byte, body []byte) error {
	if len(body)+1 > MaxFrameSize {
		return fmt.Errorf("%w: %d bytes", ErrOversizeFrame, len(body)+1)
	}
	var hdr [FrameHeaderLen]byte
	AppendFrameHeader(hdr[:0], typ, len(body))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}
