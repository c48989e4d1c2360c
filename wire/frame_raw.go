package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ReadRawFrame reads one frame and returns it whole, header included, so a
// routed frame can be queued on another link without copying: frame.B[0:5]
// is the header and frame.B[5:] the body. The caller owns frame.
func (fr *FrameReader) ReadRawFrame() (typ byte, frame *Buf, err error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("truncated frame header: %w", err)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(fr.hdr[:4])
	if n == 0 {
		return 0, nil, ErrEmptyFrame
	}
	if n > MaxFrameSize {
		return 0, nil, fmt.Errorf("%w: %d bytes (max %d)", ErrOversizeFrame, n, MaxFrameSize)
	}
	frame = GetBuf(FrameHeaderLen + int(n) - 1)
	copy(frame.B, fr.hdr[:])
	if _, err := io.ReadFull(fr.r, frame.B[FrameHeaderLen:]); err != nil {
		PutBuf(frame)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, fmt.Errorf("truncated frame body: %w", err)
	}
	return fr.hdr[4], frame, nil
}
