package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"meshd/certs"
)

const certUsage = `usage:
  meshd cert init --commonname CN [--keytype ed25519|rsa|ecdsa] [--bits N]
                  [--notbefore T] [--notafter T] --outcert FILE --outkey FILE
  meshd cert makereq --commonname CN --nodeid ID [--nodeid ID ...] [--dnsname NAME ...]
                  [--ipaddress IP ...] --outreq FILE (--outkey FILE [--keytype K] [--bits N] | --inkey FILE)
  meshd cert signreq --req FILE --cacert FILE --cakey FILE --outcert FILE
                  [--notbefore T] [--notafter T] [--verify]

receptor's spellings work too: meshd --cert-init commonname=CA bits=2048 outcert=ca.crt outkey=ca.key
Times are RFC 3339 (2030-01-02T15:04:05Z) or an offset from now (8760h, 365d, 10y, -1h).
The key type is ed25519 unless --bits is given, which means rsa as in receptor.
Existing files are never overwritten.
`

// runCert runs `meshd cert init|makereq|signreq` and receptor's
// `--cert-init`, `--cert-makereq` and `--cert-signreq`. signreq without
// --verify shows the request and asks on in before signing.
func runCert(in io.Reader, out io.Writer, args []string) error {
	var sub string
	switch {
	case len(args) > 0 && strings.HasPrefix(args[0], "--cert-"):
		sub, args = strings.TrimPrefix(args[0], "--cert-"), args[1:]
	case len(args) > 1 && args[0] == "cert":
		sub, args = args[1], args[2:]
	default:
		return errors.New("cert: want init, makereq or signreq\n" + certUsage)
	}
	args = receptorArgs(args)
	var err error
	switch sub {
	case "init":
		err = certInit(out, args)
	case "makereq":
		err = certMakeReq(out, args)
	case "signreq":
		err = certSignReq(in, out, args)
	case "help", "-h", "--help":
		fmt.Fprint(out, certUsage)
		return nil
	default:
		return fmt.Errorf("cert: unknown command %q (want init, makereq or signreq)", sub)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("cert %s: %w", sub, err)
	}
	return err
}

var flagName = regexp.MustCompile(`^(--?)([A-Za-z]+)(=.*)?$`)

// receptorArgs turns receptor's key=value arguments into flags and lower-
// cases flag names (receptor's are case-insensitive: CommonName=...).
func receptorArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if m := flagName.FindStringSubmatch(a); m != nil {
			out = append(out, m[1]+strings.ToLower(m[2])+m[3])
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if strings.HasPrefix(a, "-") || !ok || k == "" {
			out = append(out, a)
			continue
		}
		out = append(out, "--"+strings.ToLower(k)+"="+v)
	}
	return out
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// timeFlag is an RFC 3339 time or an offset from now.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := parseCertTime(s, time.Now())
	f.t = t
	return err
}

// parseCertTime reads RFC 3339 or an offset from now: a Go duration
// (8760h, -1h30m) or a whole number of days (30d) or years (10y).
func parseCertTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	rel := strings.TrimPrefix(s, "+")
	if len(rel) > 1 {
		n, err := strconv.Atoi(rel[:len(rel)-1])
		switch unit := rel[len(rel)-1]; {
		case err == nil && unit == 'd':
			return now.AddDate(0, 0, n), nil
		case err == nil && unit == 'y':
			return now.AddDate(n, 0, 0), nil
		}
	}
	if d, err := time.ParseDuration(rel); err == nil {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor an offset like 8760h, 30d or 10y", s)
}

func newCertFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("cert "+name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), certUsage) }
	return fs
}

// parseCertFlags parses args and checks the required flags are set.
func parseCertFlags(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			return fmt.Errorf("--%s is required", name)
		}
	}
	return nil
}

// keyTypeFor is the key type asked for: --keytype, else rsa when --bits
// is given (receptor's keys are all RSA), else ed25519.
func keyTypeFor(keyType string, bits int) (certs.KeyType, error) {
	if keyType == "" && bits != 0 {
		return certs.RSA, nil
	}
	return certs.ParseKeyType(keyType)
}

func certInit(out io.Writer, args []string) error {
	fs := newCertFlags("init")
	cn := fs.String("commonname", "", "common name of the CA (required)")
	keyType := fs.String("keytype", "", "ed25519 (default), rsa or ecdsa")
	bits := fs.Int("bits", 0, "RSA key size (implies --keytype rsa)")
	var notBefore, notAfter timeFlag
	fs.Var(&notBefore, "notbefore", "start of validity (default now)")
	fs.Var(&notAfter, "notafter", "end of validity (default 10 years after notbefore)")
	outCert := fs.String("outcert", "", "CA certificate file to write (required)")
	outKey := fs.String("outkey", "", "CA key file to write (required)")
	if err := parseCertFlags(fs, args, "commonname", "outcert", "outkey"); err != nil {
		return err
	}
	kt, err := keyTypeFor(*keyType, *bits)
	if err != nil {
		return err
	}
	if err := checkNewFiles(*outCert, *outKey); err != nil {
		return err
	}
	certPEM, keyPEM, err := certs.InitCA(certs.CAOptions{
		CommonName: *cn, KeyType: kt, Bits: *bits, NotBefore: notBefore.t, NotAfter: notAfter.t,
	})
	if err != nil {
		return err
	}
	return writeNewFiles(out, newFile{*outKey, keyPEM, 0o600}, newFile{*outCert, certPEM, 0o644})
}

func certMakeReq(out io.Writer, args []string) error {
	fs := newCertFlags("makereq")
	cn := fs.String("commonname", "", "common name (required)")
	var dnsNames, ipAddrs, nodeIDs listFlag
	fs.Var(&nodeIDs, "nodeid", "receptor node ID to name (repeatable)")
	fs.Var(&dnsNames, "dnsname", "DNS name (repeatable)")
	fs.Var(&ipAddrs, "ipaddress", "IP address (repeatable)")
	keyType := fs.String("keytype", "", "type of a new key: ed25519 (default), rsa or ecdsa")
	bits := fs.Int("bits", 0, "RSA key size of a new key (implies --keytype rsa)")
	outReq := fs.String("outreq", "", "certificate request file to write (required)")
	outKey := fs.String("outkey", "", "file to write a new key to")
	inKey := fs.String("inkey", "", "existing key to use instead of a new one")
	if err := parseCertFlags(fs, args, "commonname", "outreq"); err != nil {
		return err
	}
	switch {
	case *inKey == "" && *outKey == "":
		return errors.New("give --outkey FILE for a new key or --inkey FILE for an existing one")
	case *inKey != "" && *outKey != "":
		return errors.New("--inkey and --outkey exclude each other")
	case *inKey != "" && (*bits != 0 || *keyType != ""):
		return errors.New("--bits and --keytype apply to a new key, not to --inkey")
	}
	opts := certs.RequestOptions{CommonName: *cn, DNSNames: dnsNames, NodeIDs: nodeIDs, Bits: *bits}
	for _, s := range ipAddrs {
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("--ipaddress %q is not an IP address", s)
		}
		opts.IPAddresses = append(opts.IPAddresses, ip)
	}
	var err error
	if opts.KeyType, err = keyTypeFor(*keyType, *bits); err != nil {
		return err
	}
	if *inKey != "" {
		data, err := os.ReadFile(*inKey)
		if err != nil {
			return err
		}
		if opts.Key, err = certs.ParseKey(data); err != nil {
			return fmt.Errorf("%s: %w", *inKey, err)
		}
	}
	if err := checkNewFiles(*outReq, *outKey); err != nil {
		return err
	}
	csrPEM, keyPEM, err := certs.MakeRequest(opts)
	if err != nil {
		return err
	}
	files := []newFile{{*outReq, csrPEM, 0o644}}
	if keyPEM != nil {
		files = append([]newFile{{*outKey, keyPEM, 0o600}}, files...)
	}
	return writeNewFiles(out, files...)
}

func certSignReq(in io.Reader, out io.Writer, args []string) error {
	fs := newCertFlags("signreq")
	req := fs.String("req", "", "certificate request to sign (required)")
	caCert := fs.String("cacert", "", "CA certificate (required)")
	caKey := fs.String("cakey", "", "CA key (required)")
	var notBefore, notAfter timeFlag
	fs.Var(&notBefore, "notbefore", "start of validity (default now)")
	fs.Var(&notAfter, "notafter", "end of validity (default 1 year after notbefore)")
	outCert := fs.String("outcert", "", "certificate file to write (required)")
	verify := fs.Bool("verify", false, "sign without showing the request and asking (receptor's verify=true)")
	if err := parseCertFlags(fs, args, "req", "cacert", "cakey", "outcert"); err != nil {
		return err
	}
	var inputs [3][]byte
	for i, name := range []string{*req, *caCert, *caKey} {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		inputs[i] = data
	}
	csr, err := certs.ParseRequest(inputs[0])
	if err != nil {
		return fmt.Errorf("%s: %w", *req, err)
	}
	if err := checkNewFiles(*outCert); err != nil {
		return err
	}
	if !*verify {
		if err := confirmSign(in, out, certs.DescribeRequest(csr)); err != nil {
			return err
		}
	}
	certPEM, err := certs.SignRequest(inputs[0], inputs[1], inputs[2], certs.SignOptions{NotBefore: notBefore.t, NotAfter: notAfter.t})
	if err != nil {
		return err
	}
	if err := writeNewFiles(out, newFile{*outCert, certPEM, 0o644}); err != nil {
		return err
	}
	if cert, err := certs.ParseCertificate(certPEM); err == nil {
		fmt.Fprintf(out, "sha256 fingerprint (for pinnedservercert/pinnedclientcert): %s\n", certs.Fingerprint(cert))
	}
	return nil
}

// confirmSign shows the request and reads a yes or no.
func confirmSign(in io.Reader, out io.Writer, description string) error {
	fmt.Fprint(out, description, "Sign certificate (yes/no)? ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return errors.New("no answer to the prompt (use --verify to sign without asking)")
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not signed: the answer was not yes")
}

type newFile struct {
	path string
	data []byte
	perm os.FileMode
}

// checkNewFiles refuses, before anything is made, output paths that exist
// or that name the same file twice.
func checkNewFiles(paths ...string) error {
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if seen[p] {
			return fmt.Errorf("%s is named as two outputs", p)
		}
		seen[p] = true
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists; remove it first to replace it", p)
		}
	}
	return nil
}

// writeNewFiles creates each file, never overwriting one; if one fails,
// those already written are removed.
func writeNewFiles(out io.Writer, files ...newFile) error {
	for i, f := range files {
		if err := writeNewFile(f); err != nil {
			for _, done := range files[:i] {
				os.Remove(done.path)
			}
			return err
		}
	}
	for _, f := range files {
		fmt.Fprintf(out, "wrote %s\n", f.path)
	}
	return nil
}

func writeNewFile(f newFile) error {
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.perm)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already exists; remove it first to replace it", f.path)
	}
	if err != nil {
		return err
	}
	_, err = fh.Write(f.data)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.path)
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}
