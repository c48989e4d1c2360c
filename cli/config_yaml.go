package cli

// Reading YAML into raw entries: yaml.Node handling, alias refusal, line numbers.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

func fileEntries(path string) ([]*rawEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return yamlEntries(path, data)
}
func yamlEntries(src string, data []byte) ([]*rawEntry, error) {
	if len(data) > MaxConfigFileSize {
		return nil, fmt.Errorf("%s: file is larger than %d bytes", src, MaxConfigFileSize)
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if root == nil || isNullNode(root) {
		return nil, fmt.Errorf("%s: no configuration entries", src)
	}
	switch root.Kind {
	case yaml.SequenceNode:
	case yaml.MappingNode:
		return nil, fmt.Errorf("%s: expected a YAML list of entries (`- node: {id: n1}`), got a map; "+
			"receptor's v2 format (`version: 2`) is not supported", src)
	default:
		return nil, fmt.Errorf("%s: expected a YAML list of entries (`- node: {id: n1}`), got %s", src, nodeKind(root))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: no configuration entries", src)
	}
	if len(root.Content) > MaxConfigEntries {
		return nil, fmt.Errorf("%s: %d entries; the limit is %d", src, len(root.Content), MaxConfigEntries)
	}
	entries := make([]*rawEntry, 0, len(root.Content))
	for i, item := range root.Content {
		e, err := yamlEntry(src, i+1, item)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// parseYAML parses exactly one YAML document and returns its root node (nil
// for an empty stream). It refuses aliases, so nothing is ever expanded.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 panics on a few internal errors
			root, err = nil, fmt.Errorf("invalid YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err == nil:
		return nil, fmt.Errorf("more than one YAML document (line %d); put all entries in one list", extra.Line)
	default:
		return nil, yamlError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, nil
	}
	if err := refuseAliases(doc.Content[0]); err != nil {
		return nil, err
	}
	return doc.Content[0], nil
}

func yamlError(err error) error {
	return fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// refuseAliases walks the tree (iteratively: depth is attacker-controlled)
// and fails on the first alias.
func refuseAliases(root *yaml.Node) error {
	stack := []*yaml.Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.AliasNode {
			return fmt.Errorf("YAML aliases (*%s) are not supported (line %d)", clip(n.Value), n.Line)
		}
		stack = append(stack, n.Content...)
	}
	return nil
}

func yamlEntry(src string, index int, item *yaml.Node) (*rawEntry, error) {
	e := &rawEntry{src: src, index: index, line: item.Line}
	switch {
	case item.Kind == yaml.ScalarNode && !isNullNode(item): // `- local-only`
		e.label = item.Value
	case item.Kind == yaml.MappingNode && len(item.Content) == 2:
		k, v := item.Content[0], item.Content[1]
		if k.Kind != yaml.ScalarNode || isNullNode(k) {
			return nil, fmt.Errorf("%s: entry %d: the entry name must be a plain word (line %d)", src, index, k.Line)
		}
		e.label = k.Value
		if err := e.setYAMLValue(v); err != nil {
			return nil, err
		}
	case item.Kind == yaml.MappingNode && len(item.Content) > 2:
		var names []string
		for i := 0; i < len(item.Content) && len(names) < 4; i += 2 {
			names = append(names, strconv.Quote(clip(item.Content[i].Value)))
		}
		return nil, fmt.Errorf("%s: entry %d: a list item must hold exactly one entry, this one has %d keys (%s); "+
			"are the entry's keys indented under its name? (line %d)",
			src, index, len(item.Content)/2, strings.Join(names, ", "), item.Line)
	default:
		return nil, fmt.Errorf("%s: entry %d: expected `- name: {key: value, ...}`, got %s (line %d)",
			src, index, nodeKind(item), item.Line)
	}
	e.name = strings.ToLower(e.label)
	return e, nil
}

func (e *rawEntry) setYAMLValue(v *yaml.Node) error {
	switch {
	case isNullNode(v):
	case v.Kind == yaml.ScalarNode:
		e.bare = &value{node: v}
	case v.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			k := v.Content[i]
			if k.Kind != yaml.ScalarNode || isNullNode(k) {
				return e.errorf("", "keys must be plain words, got %s (line %d)", nodeKind(k), k.Line)
			}
			if err := e.addKey(k.Value, value{node: v.Content[i+1]}); err != nil {
				return err
			}
		}
	default:
		return e.errorf("", "expected a map of keys, got %s", nodeKind(v))
	}
	return nil
}

func isNullNode(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNullNode(n) {
			return "an empty value"
		}
		return strconv.Quote(clip(n.Value))
	}
	return "a YAML document"
}
