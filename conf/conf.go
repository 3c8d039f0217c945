// Package conf is the configuration of the Flume daemons, as classic Flume had it: properties
// with classic names (flume.collector.event.port, flume.agent.logdir, ...) in a Hadoop-style
// flume-site.xml, overridden by -D name=value settings, overridden in turn by command-line
// flags.
//
// The catalog (Catalog) lists every property with its type, default, range and the other
// spellings classic Flume used for it; classic properties this project has no use for
// (ZooKeeper, gossip, Thrift) are accepted and ignored with a warning, so an old
// flume-site.xml still loads. Every value remembers where it came from, so an error can say
// "/etc/flume/conf/flume-site.xml:12: property flume.event.max.size.bytes: "big" is not an
// integer".
//
// Use: Load reads the file and the -D settings; the caller applies its flags with Set; then
// Validate checks every value and returns the warnings to log. The typed accessors (Int,
// Duration, Bool, String, List) give the values with the catalog defaults, and Map gives them
// to components by canonical name (plugin.BuildContext.Props). A Config is not safe for
// concurrent Set; once set up, reading it from many goroutines is safe.
package conf

import (
	"fmt"
	"maps"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Origin says where a value came from: a file and line, "-D", or a flag.
type Origin struct {
	// Source is a file path, "-D" or "flag --name"; empty for a catalog default.
	Source string
	// Line is the 1-based line in Source when it is a file, else 0.
	Line int
}

// String returns "file:line", the source alone, or "default".
func (o Origin) String() string {
	switch {
	case o.Source == "":
		return "default"
	case o.Line > 0:
		return o.Source + ":" + strconv.Itoa(o.Line)
	default:
		return o.Source
	}
}

// Define is the origin of -D name=value settings.
var Define = Origin{Source: "-D"}

// Flag returns the origin of a value given by command-line flag --name.
func Flag(name string) Origin { return Origin{Source: "flag --" + name} }

// setting is one value as set: by file, -D or flag.
type setting struct {
	name     string // as spelled where it was set
	raw      string
	origin   Origin // where the value is
	nameLine int    // line of the name, in a file; else 0
	seq      int    // order of setting, for messages in the order of the sources
}

// nameOrigin is where the setting's name is, for messages about the name itself.
func (s setting) nameOrigin() Origin {
	o := s.origin
	if s.nameLine > 0 {
		o.Line = s.nameLine
	}
	return o
}

// Config is a set of property values over the catalog defaults.
type Config struct {
	values   map[string]setting // by canonical name; unknown names as spelled
	warnings []Warning          // found while loading (duplicates in a file)
	seq      int
}

// New returns a configuration with no value set: every property has its default.
func New() *Config {
	return &Config{values: make(map[string]setting)}
}

// Set sets property name (canonical, alias or unknown) to value, over whatever set it before;
// surrounding blanks of both are dropped. Nothing is checked until Validate. An empty name is
// a programmer error.
func (c *Config) Set(name, value string, origin Origin) {
	c.set(setting{name: strings.TrimSpace(name), raw: strings.TrimSpace(value), origin: origin})
}

func (c *Config) set(s setting) {
	if s.name == "" {
		panic("conf: Set with an empty property name")
	}
	c.seq++
	s.seq = c.seq
	c.values[key(s.name)] = s
}

// key is the name a setting is stored under: canonical for known properties.
func key(name string) string {
	if p, ok := byName[name]; ok {
		return p.Name
	}
	return name
}

// IsSet reports whether property name (or an alias) was set by a file, -D or a flag.
func (c *Config) IsSet(name string) bool {
	_, ok := c.values[key(name)]
	return ok
}

// Origin returns where the value of property name comes from; the zero Origin ("default")
// when it is not set.
func (c *Config) Origin(name string) Origin {
	return c.values[key(name)].origin
}

// raw returns the value of p as set, or its default.
func (c *Config) raw(p *Property) string {
	if s, ok := c.values[p.Name]; ok {
		return s.raw
	}
	return p.Default
}

// value returns the normalized value of p: its set value if valid, else its default. Validate
// reports invalid values; the accessors, used after it, fall back to the default so that they
// never fail.
func (c *Config) value(p *Property) string {
	if v, ok := c.normalized(p, c.raw(p)); ok {
		return v
	}
	v, _ := c.normalized(p, p.Default)
	return v
}

// normalized expands and checks raw as a value of p.
func (c *Config) normalized(p *Property, raw string) (string, bool) {
	exp, _, err := c.expand(raw)
	if err != nil {
		return "", false
	}
	v, err := normalize(p, exp)
	return v, err == nil
}

// mustLookup returns the supported property name, of one of kinds. Asking for an unknown or
// ignored property, or with the wrong accessor, is a programmer error.
func mustLookup(name string, kinds ...Kind) *Property {
	p, ok := byName[name]
	if !ok || p.Ignored != "" {
		panic(fmt.Sprintf("conf: %q is not a supported property", name))
	}
	if len(kinds) > 0 && !slices.Contains(kinds, p.Kind) {
		panic(fmt.Sprintf("conf: property %s is a %s, not a %v", name, p.Kind, kinds))
	}
	return p
}

// Int returns an integer or port property.
func (c *Config) Int(name string) int64 {
	n, _ := strconv.ParseInt(c.value(mustLookup(name, KindInt, KindPort)), 10, 64)
	return n
}

// Duration returns a duration property.
func (c *Config) Duration(name string) time.Duration {
	ms, _ := strconv.ParseInt(c.value(mustLookup(name, KindDuration)), 10, 64)
	return time.Duration(ms) * time.Millisecond
}

// Bool returns a boolean property.
func (c *Config) Bool(name string) bool {
	return c.value(mustLookup(name, KindBool)) == "true"
}

// String returns any property as text, in the form Map gives it: ${name} references
// expanded, durations in milliseconds, lists joined with commas.
func (c *Config) String(name string) string {
	return c.value(mustLookup(name))
}

// List returns the items of a list or host list property; nil when it is empty.
func (c *Config) List(name string) []string {
	return splitList(c.value(mustLookup(name, KindList, KindHostList)))
}

// Addrs returns the items of a host list property as host:port addresses, giving port to the
// items that have none.
func (c *Config) Addrs(name string, port int) []string {
	items := c.List(name)
	out := make([]string, 0, len(items))
	for _, it := range items {
		host, p, err := splitHostPort(it)
		if err != nil || p == "" {
			p = strconv.Itoa(port)
		}
		out = append(out, joinHostPort(host, p))
	}
	return out
}

// Map returns every supported property by canonical name with its value, in the form
// components parse (plugin.BuildContext.PropInt, PropMillis): integers and durations as
// decimal integers (milliseconds), booleans as true or false, ${name} references expanded.
// Properties set that are not in the catalog are included as set (expanded), for components
// with properties of their own; ignored classic properties are left out. The map is new at
// each call.
func (c *Config) Map() map[string]string {
	out := make(map[string]string, len(catalog)+len(c.values))
	for k, s := range c.values {
		if _, known := byName[k]; !known {
			out[k], _, _ = c.expand(s.raw)
		}
	}
	for i := range catalog {
		if p := &catalog[i]; p.Ignored == "" {
			out[p.Name] = c.value(p)
		}
	}
	return out
}

// sortedSettings returns the settings in the order they were set.
func (c *Config) sortedSettings() []setting {
	return slices.SortedFunc(maps.Values(c.values), func(a, b setting) int { return a.seq - b.seq })
}

// maxExpansions bounds ${name} expansion, as Hadoop's Configuration did: deeper means a cycle.
const maxExpansions = 20

// expand replaces ${name} references in s: name is a property (set or default) or user.name
// or user.home. References to nothing are kept as written and returned in unresolved. A chain
// deeper than maxExpansions (a cycle) is an error.
func (c *Config) expand(s string) (out string, unresolved []string, err error) {
	for range maxExpansions {
		if !strings.Contains(s, "${") {
			return s, nil, nil
		}
		next, unres, changed := c.expandOnce(s)
		if !changed {
			return next, unres, nil
		}
		s = next
	}
	next, unres, changed := c.expandOnce(s)
	if changed {
		return s, unres, fmt.Errorf("more than %d nested ${...} references (a cycle?)", maxExpansions)
	}
	return next, unres, nil
}

// expandOnce replaces each ${name} of s once, without expanding the values it inserts.
func (c *Config) expandOnce(s string) (out string, unresolved []string, changed bool) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), unresolved, changed
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), unresolved, changed
		}
		name := s[i+2 : i+j]
		b.WriteString(s[:i])
		if v, ok := c.lookupVar(name); ok {
			b.WriteString(v)
			changed = true
		} else {
			b.WriteString(s[i : i+j+1])
			unresolved = append(unresolved, name)
		}
		s = s[i+j+1:]
	}
}

// lookupVar resolves the name of a ${name} reference.
func (c *Config) lookupVar(name string) (string, bool) {
	if p, ok := byName[name]; ok && p.Ignored == "" {
		return c.raw(p), true
	}
	if s, ok := c.values[name]; ok {
		return s.raw, true
	}
	switch name {
	case "user.name": // classic defaults used /tmp/flume-${user.name}
		if u, err := user.Current(); err == nil {
			return u.Username, true
		}
		return os.Getenv("USER"), os.Getenv("USER") != ""
	case "user.home":
		h, err := os.UserHomeDir()
		return h, err == nil
	}
	return "", false
}
