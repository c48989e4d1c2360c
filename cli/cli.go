// Package cli is meshd's command line: it loads receptor-style
// configuration, starts a node (mesh, control service), and runs the
// auxiliary commands (demo, keygen). main.go only calls Main, so that the
// conformance suite can run the very same entry point in its test binary.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"meshd/work"
	"meshd/work/signing"
)

// Version is meshd's version, reported by `status` and `meshd version`.
const Version = "0.1.0"

const usage = `usage:
  meshd [run] -c FILE | --config FILE      run a node from a receptor config file
  meshd [run] --node id=NAME --<entry> key=value ...
                                          run a node from receptor-style flags
  meshd demo                              run a small mesh in-process and show it working
  meshd keygen --node ID [--out FILE]     write an identity key, print its trust line
  meshd keygen --work FILE                write a work-signing key to FILE and FILE.pub
  meshd cert init|makereq|signreq ...     make a CA, certificate requests, certificates (meshd cert help)
  meshd ctl [--socket ADDR] COMMAND ...   drive a node's control service (meshd ctl -h)
  meshd version                           print the version
`

// Main runs meshd with the given arguments (without the program name) and
// returns the process exit status.
func Main(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "demo":
		err = runDemo(os.Stdout, args[1:])
	case "keygen":
		err = runKeygen(os.Stdout, args[1:])
	case "cert", "--cert-init", "--cert-makereq", "--cert-signreq":
		err = runCert(os.Stdin, os.Stdout, args)
	case "ctl":
		return runCtl(os.Stdin, os.Stdout, os.Stderr, args[1:])
	case work.RunnerCommand: // started by a node for each command unit
		return work.RunnerMain(args[1:])
	case "version", "--version", "-version":
		fmt.Println("meshd", Version)
		return 0
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	case "run":
		err = runNode(args[1:])
	default:
		err = runNode(args)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "meshd:", err)
		return 1
	}
	return 0
}

// runKeygen writes a new identity key and prints the trust-file line, or
// with --work a work-signing key pair.
func runKeygen(out io.Writer, args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	node := fs.String("node", "", "node ID the key is for (required)")
	file := fs.String("out", "", "key file to write (default <datadir>/<node>/identity.key)")
	datadir := fs.String("datadir", defaultDataDir, "data directory, used when --out is not given")
	workKey := fs.String("work", "", "instead, write an Ed25519 work-signing key to `FILE` and its public key to FILE.pub")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *workKey != "" {
		return writeWorkKeys(*workKey)
	}
	if *node == "" {
		return errors.New("keygen: --node ID is required")
	}
	path := *file
	if path == "" {
		path = keyPath(*datadir, *node)
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("keygen: %s already exists; remove it first to replace the key", path)
	}
	key, err := newKeyFile(path)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	fmt.Fprintln(out, trustLine(*node, key))
	return nil
}

// writeWorkKeys writes a work-signing key (PKCS#8 PEM, for work-signing's
// privatekey) and its public key (PKIX PEM, for work-verification's
// publickey), refusing to overwrite either.
func writeWorkKeys(path string) error {
	_, priv, pub, err := signing.GenerateEd25519()
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{path, priv, 0o600}, {path + ".pub", pub, 0o644}} {
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.perm)
		if err != nil {
			return fmt.Errorf("keygen: %w", err)
		}
		_, err = fh.Write(f.data)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("keygen: %w", err)
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", f.path)
	}
	return nil
}
