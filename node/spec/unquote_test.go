package spec

import "testing"

func TestUnquote(t *testing.T) {
	good := map[string]string{
		`""`:             "",
		`"plain"`:        "plain",
		`"a\tb\n"`:       "a\tb\n",
		`"\u00e9\101"`:   "éA",
		`"quote \" in"`:  `quote " in`,
		`"\uD83D\uDE00"`: "😀",
	}
	for in, want := range good {
		if got, err := Unquote(in); err != nil || got != want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{``, `plain`, `"unterminated`, `"bad \q escape"`, `"a" tail`} {
		if got, err := Unquote(in); err == nil {
			t.Errorf("Unquote(%s) = %q, want an error", in, got)
		}
	}
}
