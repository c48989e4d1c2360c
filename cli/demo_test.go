package cli

import (
	"strings"
	"testing"
)

// TestDemo runs the README's first command end to end.
func TestDemo(t *testing.T) {
	var out strings.Builder
	if err := runDemo(&out, nil); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"Reply from n4", "3: n4 in", "HELLO FROM N1, TWO HOPS AWAY", "Succeeded (exit status 0), ran on n3", "released here and on n3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if err := runDemo(&out, []string{"x"}); err == nil {
		t.Error("demo accepted an argument")
	}
}
