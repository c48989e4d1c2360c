package work

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// followPoll is how often a results stream looks for new output while its
// unit runs; state changes wake it at once.
const followPoll = 20 * time.Millisecond

const resultsChunk = 256 << 10

// Results writes a unit's output from byte startpos to w, following it
// while the unit runs, and returns once the unit is final and every byte
// of it is written, or the unit is released, or ctx ends. header is called
// once the unit is known, before any output. A negative startpos gives no
// bytes (receptor's seek error).
func (m *Manager) Results(ctx context.Context, id string, startpos int64, auth Auth, header func() error, w io.Writer) error {
	u, err := m.unit(id)
	if err != nil {
		return err
	}
	if err := m.checkUnitSignature(u, "results", auth); err != nil {
		return err
	}
	if err := header(); err != nil {
		return err
	}
	if startpos < 0 {
		return nil
	}
	return u.follow(ctx, startpos, w)
}

func (u *unit) follow(ctx context.Context, pos int64, w io.Writer) error {
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	buf := make([]byte, resultsChunk)
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		// The status is read before the file: output that a final status
		// counts is already in the file by then.
		st, changed := u.snapshot()
		if f == nil {
			var err error
			f, err = os.Open(u.path(stdoutFile))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if f != nil {
			for {
				n, err := f.ReadAt(buf, pos)
				if n > 0 {
					if _, werr := w.Write(buf[:n]); werr != nil {
						return werr
					}
					pos += int64(n)
				}
				if err == io.EOF || n == 0 {
					break
				}
				if err != nil {
					return err
				}
			}
		}
		if st.State.Final() && pos >= st.StdoutSize {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-u.gone:
			return nil
		case <-changed:
		case <-tick.C:
		}
	}
}
