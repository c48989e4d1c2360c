package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// node is a JSON value that remembers its key order and the exact bytes of
// its scalars, so that a masked value re-encodes byte for byte like the
// original (key order of struct-shaped objects, Go's HTML escaping) except
// where a mask changed it.
type node struct {
	kind byte     // '{' object, '[' array, 0 scalar
	keys [][]byte // object: raw (quoted) keys
	vals []*node  // object values or array elements
	raw  []byte   // scalar: the literal as written
}

// parseOrdered decodes one JSON value; trailing bytes are an error.
func parseOrdered(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &ordParser{dec: dec, src: data}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return n, nil
}

type ordParser struct {
	dec  *json.Decoder
	src  []byte
	prev int64 // input offset after the previous token
}

// token returns the next token and its raw bytes in src.
func (p *ordParser) token() (json.Token, []byte, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, nil, err
	}
	end := p.dec.InputOffset()
	raw := bytes.TrimLeft(p.src[p.prev:end], " \t\r\n,:")
	p.prev = end
	return tok, raw, nil
}

func (p *ordParser) value() (*node, error) {
	tok, raw, err := p.token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		return p.object()
	case json.Delim('['):
		return p.array()
	}
	return &node{raw: raw}, nil
}

func (p *ordParser) object() (*node, error) {
	n := &node{kind: '{'}
	for {
		tok, raw, err := p.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return n, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, raw)
		n.vals = append(n.vals, v)
	}
}

func (p *ordParser) array() (*node, error) {
	n := &node{kind: '['}
	for p.dec.More() {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.vals = append(n.vals, v)
	}
	if _, _, err := p.token(); err != nil { // the closing ']'
		return nil, err
	}
	return n, nil
}

// encode writes n compactly.
func (n *node) encode(b *bytes.Buffer) {
	switch n.kind {
	case '{':
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(k)
			b.WriteByte(':')
			n.vals[i].encode(b)
		}
		b.WriteByte('}')
	case '[':
		b.WriteByte('[')
		for i, v := range n.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			v.encode(b)
		}
		b.WriteByte(']')
	default:
		b.Write(n.raw)
	}
}

func (n *node) bytes() []byte {
	var b bytes.Buffer
	n.encode(&b)
	return b.Bytes()
}

// key returns the unquoted name of the i-th key of an object.
func (n *node) key(i int) string {
	var s string
	if err := json.Unmarshal(n.keys[i], &s); err != nil {
		return string(n.keys[i])
	}
	return s
}

// str returns the value of a string scalar.
func (n *node) str() (string, bool) {
	if n.kind != 0 || len(n.raw) == 0 || n.raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(n.raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func (n *node) isNull() bool { return n.kind == 0 && string(n.raw) == "null" }

func scalar(s string) *node {
	raw, _ := json.Marshal(s)
	return &node{raw: raw}
}
