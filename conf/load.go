package conf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileName is the name of the configuration file in a configuration directory.
const FileName = "flume-site.xml"

// EnvConfDir is the environment variable naming the configuration directory when no --conf
// flag does.
const EnvConfDir = "FLUME_CONF_DIR"

// Errors of Load, for errors.Is.
var (
	// ErrNoConfDir: the configuration directory given does not exist or is no directory.
	ErrNoConfDir = errors.New("configuration directory not found")
	// ErrMalformed: the configuration file is not well-formed Hadoop-style XML.
	ErrMalformed = errors.New("malformed configuration file")
	// ErrDefine: a -D setting is not name=value.
	ErrDefine = errors.New("bad -D setting")
)

// Options say where a configuration comes from.
type Options struct {
	// ConfDir is the directory holding flume-site.xml (flag --conf). When empty, the
	// directory named by $FLUME_CONF_DIR is used; when that is unset too, no file is read.
	ConfDir string
	// Defines are -D settings, name=value, applied in order over the file.
	Defines []string
	// Getenv looks up environment variables; os.Getenv when nil.
	Getenv func(string) string
}

// Load reads flume-site.xml from the configuration directory, if it has one, then applies the
// -D settings. A directory named explicitly (flag or environment) must exist; the file in it
// need not. Load fails on an unreadable or malformed file (the error gives the file and line)
// and on a -D setting that is not name=value; values themselves are checked by Validate, once
// the caller has applied its flags with Set.
func Load(opts Options) (*Config, error) {
	c := New()
	dir, label := opts.ConfDir, "--conf"
	if dir == "" {
		getenv := opts.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		dir, label = getenv(EnvConfDir), "$"+EnvConfDir
	}
	if dir != "" {
		if err := c.loadDir(dir, label); err != nil {
			return nil, err
		}
	}
	for _, d := range opts.Defines {
		name, value, ok := strings.Cut(d, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("-D %q: %w: want name=value", d, ErrDefine)
		}
		c.Set(name, value, Define)
	}
	return c, nil
}

// loadDir reads the configuration file of dir, named by label (the flag or variable).
func (c *Config) loadDir(dir, label string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s %q: %w: %w", label, dir, ErrNoConfDir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s %q: %w: not a directory", label, dir, ErrNoConfDir)
	}
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	return c.LoadXML(path, data)
}

// LoadXML sets the properties of a Hadoop-style configuration file, data read from path:
//
//	<configuration>
//	  <property><name>NAME</name><value>VALUE</value><description>...</description></property>
//	</configuration>
//
// Each value remembers path and the line of its <value>. A property set twice in the file
// takes the later value, with a warning naming both lines. Elements other than <property>
// (and, in it, other than name, value, description, final) are skipped with a warning. A file
// that is not well-formed, or a <property> without <name> or <value>, is an error wrapping
// ErrMalformed, "path:line: ...", and sets nothing.
func (c *Config) LoadXML(path string, data []byte) error {
	x := &xmlReader{d: xml.NewDecoder(bytes.NewReader(data)), path: path}
	settings, err := x.configuration()
	if err != nil {
		return err
	}
	for _, s := range settings {
		c.set(s)
	}
	c.warnings = append(c.warnings, x.warnings...)
	return nil
}

// xmlReader walks a configuration file's elements, turning every error into one that gives
// the file and line, and collecting warnings.
type xmlReader struct {
	d        *xml.Decoder
	path     string
	warnings []Warning
}

// configuration reads the whole file and returns its settings in file order.
func (x *xmlReader) configuration() ([]setting, error) {
	root, err := x.root()
	if err != nil {
		return nil, err
	}
	var settings []setting
	seen := make(map[string]setting)
	for {
		se, err := x.child(root)
		if err != nil {
			return nil, err
		}
		if se == nil {
			return settings, x.end()
		}
		if se.Name.Local != "property" {
			x.warnSkipped(se, "<configuration>")
			if err := x.skip(); err != nil {
				return nil, err
			}
			continue
		}
		s, err := x.property()
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[key(s.name)]; dup {
			x.warnDuplicate(prev, s)
		}
		seen[key(s.name)] = s
		settings = append(settings, s)
	}
}

// property reads the content of a <property> element.
func (x *xmlReader) property() (setting, error) {
	start := x.line()
	s := setting{origin: Origin{Source: x.path}}
	var hasName, hasValue bool
	for {
		se, err := x.child("property")
		if err != nil {
			return s, err
		}
		if se == nil {
			break
		}
		switch se.Name.Local {
		case "name":
			s.nameLine = x.line()
			s.name, err = x.text()
			s.name, hasName = strings.TrimSpace(s.name), true
		case "value":
			s.origin.Line = x.line()
			s.raw, err = x.text()
			s.raw, hasValue = strings.TrimSpace(s.raw), true
		case "description", "final", "source":
			err = x.skip()
		default:
			x.warnSkipped(se, "<property>")
			err = x.skip()
		}
		if err != nil {
			return s, err
		}
	}
	switch {
	case !hasName || s.name == "":
		return s, x.errorf(start, "<property> without a <name>")
	case !hasValue:
		return s, x.errorf(s.nameLine, "property %s has no <value>", s.name)
	}
	return s, nil
}

// warnDuplicate warns that s sets again in the same file what prev set.
func (x *xmlReader) warnDuplicate(prev, s setting) {
	what := "property " + s.name
	if prev.name != s.name {
		what = fmt.Sprintf("property %s (as %s on line %d)", s.name, prev.name, prev.nameLine)
	}
	x.warnings = append(x.warnings, Warning{s.nameOrigin(), fmt.Sprintf(
		"%s is set twice in this file, on lines %d and %d; line %d wins",
		what, prev.nameLine, s.nameLine, s.nameLine)})
}

// warnSkipped warns that element se inside parent was skipped.
func (x *xmlReader) warnSkipped(se *xml.StartElement, parent string) {
	x.warnings = append(x.warnings, Warning{Origin{x.path, x.line()},
		fmt.Sprintf("unexpected element <%s> in %s, skipped", se.Name.Local, parent)})
}

// line is the line the decoder has reached: after a start element, its line.
func (x *xmlReader) line() int {
	l, _ := x.d.InputPos()
	return l
}

func (x *xmlReader) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %w: %s", x.path, line, ErrMalformed, fmt.Sprintf(format, args...))
}

// wrap turns a decoder error into a positioned one.
func (x *xmlReader) wrap(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return x.errorf(se.Line, "%s", se.Msg)
	}
	if errors.Is(err, io.EOF) {
		return x.errorf(x.line(), "unexpected end of file")
	}
	return x.errorf(x.line(), "%v", err)
}

// root reads up to the root element, which must be <configuration>.
func (x *xmlReader) root() (string, error) {
	for {
		tok, err := x.d.Token()
		if errors.Is(err, io.EOF) {
			return "", x.errorf(x.line(), "no <configuration> element")
		}
		if err != nil {
			return "", x.wrap(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "configuration" {
				return "", x.errorf(x.line(), "root element is <%s>, want <configuration>", se.Name.Local)
			}
			return se.Name.Local, nil
		}
	}
}

// end reads what follows the root element: nothing but comments and blanks.
func (x *xmlReader) end() error {
	for {
		tok, err := x.d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return x.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return x.errorf(x.line(), "element <%s> after </configuration>", t.Name.Local)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return x.errorf(x.line(), "text after </configuration>")
			}
		}
	}
}

// child returns the next child element of the current element, named parent, or nil at its
// end. Text between elements is ignored (whitespace, in a sane file).
func (x *xmlReader) child(parent string) (*xml.StartElement, error) {
	for {
		tok, err := x.d.Token()
		if err != nil {
			return nil, x.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return &t, nil
		case xml.EndElement:
			if t.Name.Local != parent {
				return nil, x.errorf(x.line(), "unexpected </%s>", t.Name.Local)
			}
			return nil, nil
		}
	}
}

// text reads the text content of the current element, up to its end.
func (x *xmlReader) text() (string, error) {
	var b strings.Builder
	for {
		tok, err := x.d.Token()
		if err != nil {
			return "", x.wrap(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			return "", x.errorf(x.line(), "unexpected element <%s> in a name or value", t.Name.Local)
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

// skip skips the rest of the current element.
func (x *xmlReader) skip() error {
	if err := x.d.Skip(); err != nil {
		return x.wrap(err)
	}
	return nil
}
