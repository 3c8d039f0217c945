package spec

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// docPath is the user documentation of the language, whose examples are checked here.
const docPath = "../../docs/spec-language.md"

// docBlock is a fenced block of the documentation: its info string, first line and text.
type docBlock struct {
	lang string
	line int // line of the opening fence
	text string
}

// docBlocks returns the ```flume and ```flume-error blocks of the markdown file at path.
func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []docBlock
		cur    *docBlock
		body   []string
		n      int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			lang := strings.TrimSpace(strings.TrimPrefix(line, "```"))
			cur, body = &docBlock{lang: lang, line: n}, nil
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.text = strings.Join(body, "\n")
			if cur.lang == "flume" || cur.lang == "flume-error" {
				blocks = append(blocks, *cur)
			}
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: unclosed code block", path, cur.line)
	}
	return blocks
}

// TestDocExamples checks every example of docs/spec-language.md: a ```flume block parses (and
// its canonical form parses back equal), a ```flume-error block's first line fails with
// exactly the error text of its other lines.
func TestDocExamples(t *testing.T) {
	blocks := docBlocks(t, docPath)
	var good, bad int
	for _, b := range blocks {
		t.Run(fmt.Sprintf("line%d", b.line), func(t *testing.T) {
			switch b.lang {
			case "flume":
				good++
				nodes, err := ParseNodes(b.text)
				if err != nil {
					t.Fatalf("%s:%d: example does not parse:\n%v", docPath, b.line, err)
				}
				if len(nodes) == 0 {
					t.Fatalf("%s:%d: example defines no node", docPath, b.line)
				}
				again, err := ParseNodes(FormatNodes(nodes))
				if err != nil || !EqualNodes(nodes, again) {
					t.Errorf("%s:%d: canonical form does not parse back equal: %v", docPath, b.line, err)
				}
			case "flume-error":
				bad++
				src, want, ok := strings.Cut(b.text, "\n")
				if !ok {
					t.Fatalf("%s:%d: error example without error text", docPath, b.line)
				}
				_, err := ParseNodes(src)
				if err == nil {
					t.Fatalf("%s:%d: error example parses", docPath, b.line)
				}
				if err.Error() != want {
					t.Errorf("%s:%d: error\n got %s\nwant %s", docPath, b.line, err, want)
				}
			}
		})
	}
	if good == 0 || bad == 0 {
		t.Errorf("found %d flume and %d flume-error blocks; want some of each", good, bad)
	}
}

// TestDocCanonicalExample checks the example of the canonical form: the block after "is written
// back as" is the canonical print of the block before it.
func TestDocCanonicalExample(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	const marker = "is written back as"
	doc := string(raw)
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("%s has no %q", docPath, marker)
	}
	var before, after *docBlock
	for _, b := range docBlocks(t, docPath) {
		off := lineOffset(doc, b.line)
		if off < i {
			before = &b
		} else if after == nil {
			after = &b
		}
	}
	if before == nil || after == nil {
		t.Fatal("canonical form example not found")
	}
	nodes, err := ParseNodes(before.text)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatNodes(nodes); got != after.text+"\n" {
		t.Errorf("canonical form of the example\n got %s\nwant %s", got, after.text)
	}
}

// lineOffset returns the byte offset of 1-based line n of s.
func lineOffset(s string, n int) int {
	off := 0
	for range n - 1 {
		j := strings.IndexByte(s[off:], '\n')
		if j < 0 {
			return len(s)
		}
		off += j + 1
	}
	return off
}
