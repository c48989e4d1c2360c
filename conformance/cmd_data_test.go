package conformance

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Large payloads and outputs are checked by size and SHA-256, never held in
// a script's stdout. Their bytes come from one seeded generator, available
// three ways: the program `gendata` on the script's PATH (a work command
// that produces a known output, also on a node), the command `genfile` (a
// payload file) and `sha256 -gen` (the expected hash, without the bytes).

// genStream returns the generator's bytes for seed: a ChaCha8 key stream,
// pseudo-random so that a lost, repeated or reordered chunk changes the
// hash (a stream of one repeated byte would only notice a length change).
func genStream(seed uint64) io.Reader {
	var key [32]byte
	copy(key[:], "meshd conformance data ")
	binary.LittleEndian.PutUint64(key[24:], seed)
	return rand.NewChaCha8(key)
}

const gendataUsage = "usage: gendata [-rate BYTES_PER_SECOND] SIZE [SEED]"

// gendataMain is the `gendata` program on the scripts' PATH:
//
//	gendata [-rate BPS] SIZE [SEED]
//
// writes SIZE bytes (a count, or with KiB, MiB, GiB) of the generator's
// stream for SEED (default 1) to stdout. -rate caps the throughput (bytes
// per second, same suffixes), so that a script can act while a large output
// is still being produced.
func gendataMain(args []string) int {
	fs := flag.NewFlagSet("gendata", flag.ContinueOnError)
	rate := fs.String("rate", "", "bytes per second at most")
	if err := fs.Parse(args); err != nil || fs.NArg() < 1 || fs.NArg() > 2 {
		fmt.Fprintln(os.Stderr, gendataUsage)
		return 2
	}
	size, seed, err := sizeAndSeed(fs.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		return 2
	}
	var bps int64
	if *rate != "" {
		if bps, err = parseSize(*rate); err != nil || bps == 0 {
			fmt.Fprintln(os.Stderr, "gendata: -rate:", err)
			return 2
		}
	}
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	src := io.LimitReader(genStream(seed), size)
	start := time.Now()
	var done int64
	buf := make([]byte, 64<<10)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				fmt.Fprintln(os.Stderr, "gendata:", err)
				return 1
			}
			done += int64(n)
			if bps > 0 {
				if err := w.Flush(); err != nil {
					fmt.Fprintln(os.Stderr, "gendata:", err)
					return 1
				}
				due := start.Add(time.Duration(float64(done) / float64(bps) * float64(time.Second)))
				time.Sleep(time.Until(due))
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		return 1
	}
	return 0
}

func sizeAndSeed(args []string) (size int64, seed uint64, err error) {
	if size, err = parseSize(args[0]); err != nil {
		return 0, 0, err
	}
	seed = 1
	if len(args) > 1 {
		var s int64
		if s, err = parseSize(args[1]); err != nil {
			return 0, 0, fmt.Errorf("bad seed %q", args[1])
		}
		seed = uint64(s)
	}
	return size, seed, nil
}

const genfileUsage = "genfile FILE SIZE [SEED]"

// cmdGenfile writes a payload file:
//
//	genfile FILE SIZE [SEED]
//
// FILE gets SIZE bytes of the generator's stream for SEED (default 1),
// the same bytes `gendata SIZE SEED` writes.
func cmdGenfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: %s", genfileUsage)
	}
	size, seed, err := sizeAndSeed(args[1:])
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	if _, err := io.Copy(f, io.LimitReader(genStream(seed), size)); err != nil {
		f.Close()
		ts.Fatalf("genfile: %v", err)
	}
	ts.Check(f.Close())
}

const sha256Usage = "sha256 [-var VAR] FILE | sha256 [-var VAR] -gen SIZE [SEED]"

// cmdSHA256 prints the size and SHA-256 of a file, or of the generator's
// stream, as one line "SIZE HEX" (the form `workresults -hash` prints):
//
//	sha256 [-var VAR] FILE
//	sha256 [-var VAR] -gen SIZE [SEED]
//
// With -var, VAR is also set to the hex digest alone (to look for it in
// a unit's output, say).
func cmdSHA256(ts *testscript.TestScript, neg bool, args []string) {
	fs := newFlagSet("sha256")
	varName := fs.String("var", "", "variable to set to the hex digest")
	gen := fs.Bool("gen", false, "hash the generator's stream: SIZE [SEED]")
	rest := parseFlags(ts, fs, sha256Usage, args)
	if neg || (!*gen && len(rest) != 1) || (*gen && (len(rest) < 1 || len(rest) > 2)) {
		ts.Fatalf("usage: %s", sha256Usage)
	}
	var src io.Reader
	if *gen {
		size, seed, err := sizeAndSeed(rest)
		ts.Check(err)
		src = io.LimitReader(genStream(seed), size)
	} else {
		f, err := os.Open(ts.MkAbs(rest[0]))
		ts.Check(err)
		defer f.Close()
		src = f
	}
	h := newSizedHash()
	_, err := io.Copy(h, src)
	ts.Check(err)
	if *varName != "" {
		setenv(ts, *varName, hex.EncodeToString(h.h.Sum(nil)))
	}
	fmt.Fprintln(ts.Stdout(), h.String())
}

// sizedHash counts and hashes what is written to it.
type sizedHash struct {
	h hash.Hash
	n int64
}

func newSizedHash() *sizedHash { return &sizedHash{h: sha256.New()} }

func (s *sizedHash) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	return s.h.Write(p)
}

// String is "SIZE HEX".
func (s *sizedHash) String() string { return fmt.Sprintf("%d %x", s.n, s.h.Sum(nil)) }
