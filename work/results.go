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
	var buf []byte // for writers that cannot send the file themselves
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
				n, err := copyOut(w, f, pos, &buf)
				pos += int64(n)
				if err != nil {
					return err
				}
				if n == 0 {
					break
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

// fileSender is a results writer that sends a file's bytes itself where
// it can: a control session on a Unix or TCP socket, with sendfile(2).
type fileSender interface {
	SendFile(f *os.File, off int64, n int) (written int, handled bool, err error)
}

// copyOut writes f's bytes from pos to w, as many as one chunk, and
// returns how many; 0 at f's current end. *buf is made on first use, so
// that a session that sends the file itself never allocates it.
func copyOut(w io.Writer, f *os.File, pos int64, buf *[]byte) (int, error) {
	if fs, ok := w.(fileSender); ok {
		if n, handled, err := fs.SendFile(f, pos, resultsChunk); handled {
			return n, err
		}
	}
	if *buf == nil {
		*buf = make([]byte, resultsChunk)
	}
	n, err := f.ReadAt(*buf, pos)
	if n > 0 {
		if _, werr := w.Write((*buf)[:n]); werr != nil {
			return 0, werr
		}
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}
