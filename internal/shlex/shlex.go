// Package shlex splits a command line into words the way a POSIX shell
// does, without expanding anything.
//
// Receptor splits the params of a work command with github.com/google/shlex;
// Split accepts the same inputs and gives the same words for them, with the
// differences listed on Split. It never runs, globs or substitutes anything:
// `$HOME`, `$(id)`, backticks and `/tmp/x_*` come back literally.
package shlex

import "fmt"

// MaxInput is the longest input Split accepts, in bytes.
const MaxInput = 1 << 20

// Split splits s into words:
//
//   - Space, tab, newline and carriage return separate words.
//   - Single quotes preserve everything between them literally.
//   - Double quotes preserve everything between them except a backslash
//     before `"`, `\`, `$`, a backtick or a newline, which escapes that
//     character; a backslash before any other character is kept, as in
//     POSIX sh.
//   - Outside quotes a backslash escapes the next character.
//   - A backslash before a newline, outside single quotes, is a line
//     continuation: both are removed, as in POSIX sh.
//   - Quoted and unquoted parts next to each other form one word:
//     `--exclude-strings="a b"` is the word `--exclude-strings=a b`, and
//     `a'b'"c"` is `abc`. A pair of single or double quotes with nothing
//     between them is an empty word.
//
// Unlike google/shlex, a `#` at the start of a word does not begin a comment:
// it is an ordinary character. Unlike google/shlex, a backslash inside double
// quotes escapes only the characters listed above.
//
// Split returns an error for an unterminated quote, a trailing backslash or
// an input longer than MaxInput. An input with no words gives no words and
// no error.
func Split(s string) ([]string, error) {
	if len(s) > MaxInput {
		return nil, fmt.Errorf("input is %d bytes, longer than the %d-byte limit", len(s), MaxInput)
	}
	var (
		words  []string
		word   []byte
		inWord bool // a word has begun, even if it is still empty ('')
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			if inWord {
				words = append(words, string(word))
				word, inWord = word[:0], false
			}
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("trailing backslash at byte %d: nothing to escape", i)
			}
			i++
			if s[i] == '\n' {
				continue // line continuation
			}
			word, inWord = append(word, s[i]), true
		case '\'':
			end, err := closingSingle(s, i)
			if err != nil {
				return nil, err
			}
			word, inWord = append(word, s[i+1:end]...), true
			i = end
		case '"':
			var err error
			word, i, err = appendDouble(word, s, i)
			if err != nil {
				return nil, err
			}
			inWord = true
		default:
			word, inWord = append(word, c), true
		}
	}
	if inWord {
		words = append(words, string(word))
	}
	return words, nil
}

// closingSingle returns the index of the single quote closing the one at
// s[open].
func closingSingle(s string, open int) (int, error) {
	for i := open + 1; i < len(s); i++ {
		if s[i] == '\'' {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unterminated single quote opened at byte %d", open)
}

// appendDouble appends to word the contents of the double-quoted string
// opening at s[open], and returns the index of its closing quote.
func appendDouble(word []byte, s string, open int) ([]byte, int, error) {
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return word, i, nil
		case '\\':
			if i+1 < len(s) {
				switch s[i+1] {
				case '"', '\\', '$', '`':
					i++
					word = append(word, s[i])
					continue
				case '\n':
					i++ // line continuation
					continue
				}
			}
			word = append(word, c)
		default:
			word = append(word, c)
		}
	}
	return nil, 0, fmt.Errorf("unterminated double quote opened at byte %d", open)
}
