package shlex

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{``, nil},
		{" \t\r\n ", nil},
		{`a b  c`, []string{"a", "b", "c"}},
		{"a\tb\nc\rd", []string{"a", "b", "c", "d"}},
		{`  lead trail  `, []string{"lead", "trail"}},
		{`--exclude-strings="a b"`, []string{"--exclude-strings=a b"}},
		{`/tmp/x_* ?`, []string{"/tmp/x_*", "?"}},
		{`$HOME ${HOME} $(id) ` + "`id`", []string{"$HOME", "${HOME}", "$(id)", "`id`"}},
		{`"$HOME"`, []string{"$HOME"}},
		{`a'b'"c"`, []string{"abc"}},
		{`''`, []string{""}},
		{`""`, []string{""}},
		{`a '' b`, []string{"a", "", "b"}},
		{`'a "b" \c'`, []string{`a "b" \c`}},
		{`'it'\''s'`, []string{"it's"}},
		{`"a \" \\ \$ \` + "`" + ` \n \a"`, []string{"a \" \\ $ ` \\n \\a"}},
		{"\"a\\\nb\"", []string{"ab"}},
		{"a\\\nb", []string{"ab"}},
		{"a \\\n b", []string{"a", "b"}},
		{`a\ b \'c\" \\`, []string{"a b", `'c"`, `\`}},
		{`\#x #comment not`, []string{"#x", "#comment", "not"}},
		{`a#b`, []string{"a#b"}},
		{`"multi
line"`, []string{"multi\nline"}},
		{`héllo "wörld"`, []string{"héllo", "wörld"}},
		{`--params="-c 'echo hi' x" y`, []string{"--params=-c 'echo hi' x", "y"}},
	} {
		got, err := Split(tc.in)
		if err != nil {
			t.Errorf("Split(%q): %v", tc.in, err)
			continue
		}
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`'abc`, "unterminated single quote"},
		{`a "b`, "unterminated double quote"},
		{`"a\"`, "unterminated double quote"},
		{`abc\`, "trailing backslash"},
		{`'a'\`, "trailing backslash"},
		{strings.Repeat("a", MaxInput+1), "limit"},
	} {
		got, err := Split(tc.in)
		if err == nil {
			t.Errorf("Split(%.40q) = %q, want error containing %q", tc.in, got, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Split(%.40q) error %q, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestSplitMaxInputAccepted(t *testing.T) {
	got, err := Split(strings.Repeat("a", MaxInput))
	if err != nil || len(got) != 1 || len(got[0]) != MaxInput {
		t.Fatalf("Split of a %d-byte word: %d words, %v", MaxInput, len(got), err)
	}
}

// quote single-quotes every word and joins them with spaces: the inverse of
// Split.
func quote(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// FuzzSplit checks that Split never panics and that whatever it splits
// survives a round trip through quote. Seeds: testdata/fuzz/FuzzSplit.
func FuzzSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		words, err := Split(s)
		if err != nil {
			return
		}
		q := quote(words)
		if len(q) > MaxInput {
			return
		}
		again, err := Split(q)
		if err != nil {
			t.Fatalf("Split(%q) = %q, but its quoted form %q does not split: %v", s, words, q, err)
		}
		if len(again) != len(words) || (len(words) > 0 && !reflect.DeepEqual(again, words)) {
			t.Fatalf("Split(%q) = %q, but its quoted form %q splits to %q", s, words, q, again)
		}
	})
}
