package cli

import (
	"errors"
	"fmt"
	"strings"
)

// cmdLine is the source name of entries given as command-line flags.
const cmdLine = "command line"

// ErrHelp is returned by ParseArgsConfig for -h or --help.
var ErrHelp = errors.New("help requested")

// ParseArgsConfig builds a Config from meshd's command-line arguments:
// `-c FILE` / `--config FILE` / `--config=FILE` loads a receptor YAML file; every other
// `--<entry> key=value key=value ...` group adds one entry, exactly as receptor's
// command line does (e.g. `--node id=n1 --tcp-listener port=2222 --tcp-peer address=127.0.0.1:2223
// --control-service filename=/tmp/n1.sock --local-only`). Flag entries are appended after file entries.
//
// As in receptor, an entry that has a main key also takes its value as a bare
// word: `--node n1`, `--log-level debug`, `--tcp-listener 2222`,
// `--tcp-peer host:port`, `--local-only false`. Lists are comma-separated
// (`allowedpeers=n2,n3`) or JSON; nodecost is `n2:2.5,n3:1` or a JSON
// object; firewallrules is a JSON list of objects.
func ParseArgsConfig(args []string) (*Config, error) {
	if len(args) == 0 {
		return nil, errors.New("no configuration: use -c FILE or --node id=... entries")
	}
	files, flagEntries, err := argEntries(args)
	if err != nil {
		return nil, err
	}
	var entries []*rawEntry
	for _, f := range files {
		fe, err := fileEntries(f)
		if err != nil {
			return nil, err
		}
		entries = append(entries, fe...)
		if len(entries) > MaxConfigEntries {
			return nil, fmt.Errorf("more than %d configuration entries", MaxConfigEntries)
		}
	}
	return buildConfig(append(entries, flagEntries...))
}

// argEntries splits the arguments into config files and flag entries.
func argEntries(args []string) (files []string, entries []*rawEntry, err error) {
	var cur *rawEntry
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if len(arg) < 2 || arg[0] != '-' {
			if cur == nil {
				return nil, nil, fmt.Errorf("%s: %q: expected -c FILE or a --entry flag first", cmdLine, clip(arg))
			}
			if err := cur.addWord(arg); err != nil {
				return nil, nil, err
			}
			continue
		}
		flag := strings.TrimLeft(arg, "-")
		var inline *string // the text after '=' in --flag=value
		if eq := strings.IndexByte(flag, '='); eq >= 0 {
			rest := flag[eq+1:]
			flag, inline = flag[:eq], &rest
		}
		cur = nil
		switch strings.ToLower(flag) {
		case "c", "config":
			switch {
			case inline != nil && *inline != "":
				files = append(files, *inline)
			case inline == nil && i+1 < len(args) && args[i+1] != "" && !strings.HasPrefix(args[i+1], "-"):
				files = append(files, args[i+1])
				i++
			default:
				return nil, nil, fmt.Errorf("%s: %s needs a file name", cmdLine, arg)
			}
			continue
		case "h", "help":
			return nil, nil, ErrHelp
		case "":
			return nil, nil, fmt.Errorf("%s: %q is not a flag", cmdLine, arg)
		}
		if len(entries) >= MaxConfigEntries {
			return nil, nil, fmt.Errorf("%s: more than %d entries", cmdLine, MaxConfigEntries)
		}
		cur = &rawEntry{src: cmdLine, index: len(entries) + 1, name: strings.ToLower(flag), label: "--" + flag}
		entries = append(entries, cur)
		if inline != nil {
			if err := cur.addWord(*inline); err != nil {
				return nil, nil, err
			}
		}
	}
	return files, entries, nil
}

// addWord adds `key=value`, or the entry's one bare value.
func (e *rawEntry) addWord(word string) error {
	key, val, ok := strings.Cut(word, "=")
	if !ok {
		if e.bare != nil {
			return e.errorf("", "%q is not key=value", clip(word))
		}
		e.bare = &value{text: word}
		return nil
	}
	if key == "" {
		return e.errorf("", "%q is not key=value", clip(word))
	}
	return e.addKey(key, value{text: val})
}
