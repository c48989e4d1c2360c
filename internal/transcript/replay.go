package transcript

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// ReplayOptions tune Replay.
type ReplayOptions struct {
	Mask    Mask          // applied to expected and received server bytes; nil = DefaultMask
	Timeout time.Duration // bound on every read and write; 0 = 10s
	// IDs, if not nil, maps the transcript's unit IDs to the live ones:
	// Replay learns from every matching server record (UnitIDs.Learn) and
	// sends client records with the learned IDs (UnitIDs.Substitute). Share
	// one across the connections and transcripts of one set of nodes.
	IDs *UnitIDs
}

// Replay plays connection c of a transcript against a fresh connection from
// dial: it sends every C record, half-closes (CloseWrite) at C EOF, and reads
// every S record, comparing the masked bytes. An S record ending in "\n" is
// read as one line; a partial record is read to its length, or to EOF when
// an S EOF follows. S EOF requires the server to close. The first difference
// is returned as an error naming the transcript line. With opts.IDs, unit
// IDs are learned and substituted as UnitIDs describes.
func Replay(c Conn, dial func() (net.Conn, error), opts ReplayOptions) error {
	if opts.Mask == nil {
		opts.Mask = DefaultMask
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	nc, err := dial()
	if err != nil {
		return fmt.Errorf("connection %d: dial: %w", c.N, err)
	}
	defer nc.Close()
	r := &replayer{conn: nc, in: bufio.NewReader(nc), opts: opts}
	for i, rec := range c.Records {
		if err := r.step(c.Records, i); err != nil {
			return fmt.Errorf("connection %d, transcript line %d: %w", c.N, rec.Line, err)
		}
	}
	return nil
}

type replayer struct {
	conn   net.Conn
	in     *bufio.Reader
	opts   ReplayOptions
	sawEOF bool // a partial record already read up to the server's EOF
}

func (r *replayer) step(recs []Record, i int) error {
	rec := recs[i]
	switch {
	case rec.Side == Client && rec.EOF:
		return closeWrite(r.conn)
	case rec.Side == Client:
		data := rec.Data
		if r.opts.IDs != nil {
			data = r.opts.IDs.Substitute(data)
		}
		r.conn.SetWriteDeadline(time.Now().Add(r.opts.Timeout))
		_, err := r.conn.Write(data)
		return err
	case rec.EOF:
		return r.expectEOF()
	}
	toEOF := i+1 < len(recs) && recs[i+1].Side == Server && recs[i+1].EOF
	got, err := r.read(rec.Data, toEOF)
	if err != nil {
		return fmt.Errorf("reading server bytes %s: %w (got %s)", Quote(rec.Data), err, Quote(got))
	}
	if err := r.compare(rec.Data, got); err != nil {
		return err
	}
	if r.opts.IDs != nil {
		if err := r.opts.IDs.Learn(rec.Data, got); err != nil {
			return fmt.Errorf("server bytes %s: %w", Quote(got), err)
		}
	}
	return nil
}

func closeWrite(c net.Conn) error {
	hc, ok := c.(interface{ CloseWrite() error })
	if !ok {
		return fmt.Errorf("C EOF: %T cannot half-close", c)
	}
	return hc.CloseWrite()
}

// read reads the server's counterpart of the expected record want.
func (r *replayer) read(want []byte, toEOF bool) ([]byte, error) {
	r.conn.SetReadDeadline(time.Now().Add(r.opts.Timeout))
	switch {
	case bytes.HasSuffix(want, []byte("\n")):
		return r.in.ReadBytes('\n')
	case toEOF:
		r.sawEOF = true
		return io.ReadAll(r.in)
	}
	got := make([]byte, len(want))
	n, err := io.ReadFull(r.in, got)
	return got[:n], err
}

func (r *replayer) expectEOF() error {
	if r.sawEOF {
		return nil
	}
	r.conn.SetReadDeadline(time.Now().Add(r.opts.Timeout))
	extra, err := io.ReadAll(r.in)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("waiting for server EOF: %w", err)
	}
	if len(extra) > 0 {
		return fmt.Errorf("expected server EOF, got more bytes %s", Quote(extra))
	}
	return nil
}

func (r *replayer) compare(want, got []byte) error {
	mw, mg := r.opts.Mask(want), r.opts.Mask(got)
	if bytes.Equal(mw, mg) {
		return nil
	}
	return fmt.Errorf("server bytes differ\n got: %s\nwant: %s\n(masked)\n got: %s\nwant: %s",
		Quote(got), Quote(want), Quote(mg), Quote(mw))
}
