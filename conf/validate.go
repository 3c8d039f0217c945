package conf

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flumego/flume/node/spec"
)

// Error is a property value that fails its check. Validate returns one per bad value, joined.
type Error struct {
	// Origin is where the value was set.
	Origin Origin
	// Name is the property as spelled where it was set.
	Name string
	// Msg gives the value and what was wanted: `"big" is not an integer`.
	Msg string
}

// Error formats as "origin: property name: msg".
func (e *Error) Error() string {
	return fmt.Sprintf("%s: property %s: %s", e.Origin, e.Name, e.Msg)
}

// Warning is a problem that does not stop a daemon: an unknown or ignored property, a
// property set twice in one file, a ${name} that refers to nothing.
type Warning struct {
	Origin Origin
	Msg    string
}

// String formats as "origin: msg".
func (w Warning) String() string { return w.Origin.String() + ": " + w.Msg }

// Validate checks every value set, and the values that depend on each other. The error joins
// one *Error per bad value, in the order the values were set (file, -D, flags). Warnings, in
// the same order, are for the caller to log: unknown properties (with a suggestion when one
// is close), classic properties that are ignored, duplicates in a file, references to nothing.
// Validate changes nothing; calling it twice gives the same result.
func (c *Config) Validate() (warnings []Warning, err error) {
	warnings = slices.Clone(c.warnings)
	var errs []error
	for _, s := range c.sortedSettings() {
		p, known := byName[s.name]
		switch {
		case !known:
			msg := "unknown property " + s.name
			if sug := spec.Suggest(s.name, allNames); sug != "" {
				msg += "; did you mean " + sug + "?"
			}
			warnings = append(warnings, Warning{s.nameOrigin(), msg})
		case p.Ignored != "":
			warnings = append(warnings, Warning{s.nameOrigin(),
				fmt.Sprintf("property %s is ignored: %s", s.name, p.Ignored)})
		default:
			w, err := c.check(p, s)
			warnings = append(warnings, w...)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := c.checkServerID(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.checkRaftTimeouts()...)
	for _, pair := range [][2]string{
		{FailoverBackoffInitial, FailoverBackoffMax},
		{NodeHeartbeatBackoff, NodeHeartbeatBackoffCeiling},
	} {
		if w, ok := c.checkOrder(pair[0], pair[1]); ok {
			warnings = append(warnings, w)
		}
	}
	return warnings, errors.Join(errs...)
}

// check checks the value s sets for p.
func (c *Config) check(p *Property, s setting) ([]Warning, error) {
	exp, unresolved, err := c.expand(s.raw)
	if err != nil {
		return nil, &Error{Origin: s.origin, Name: s.name, Msg: fmt.Sprintf("%q: %v", s.raw, err)}
	}
	var warnings []Warning
	for _, name := range unresolved {
		warnings = append(warnings, Warning{s.origin,
			fmt.Sprintf("property %s: ${%s} refers to no property; kept as written", s.name, name)})
	}
	if _, err := normalize(p, exp); err != nil {
		show := strconv.Quote(s.raw)
		if exp != s.raw {
			show += fmt.Sprintf(" (expands to %q)", exp)
		}
		return warnings, &Error{Origin: s.origin, Name: s.name, Msg: show + " " + err.Error()}
	}
	return warnings, nil
}

// valid reports whether the value of property name, set or default, passes its check.
func (c *Config) valid(name string) bool {
	_, ok := c.normalized(byName[name], c.raw(byName[name]))
	return ok
}

// checkServerID checks that flume.master.serverid indexes flume.master.servers.
func (c *Config) checkServerID() error {
	if !c.valid(MasterServerID) || !c.valid(MasterServers) {
		return nil // reported already
	}
	id, n := c.Int(MasterServerID), len(c.List(MasterServers))
	s, ok := c.values[MasterServerID]
	if id < int64(n) || !ok {
		return nil // the default 0 is always in range: the list has at least one master
	}
	return &Error{Origin: s.origin, Name: s.name, Msg: fmt.Sprintf(
		"%q is out of range: %s lists %d master(s), want 0 to %d", s.raw, MasterServers, n, n-1)}
}

// checkRaftTimeouts checks the relations raft needs between its timeouts: a leader's lease no
// longer than a follower's patience, and an election no shorter than it. The error names the
// property set last of each pair.
func (c *Config) checkRaftTimeouts() []error {
	var errs []error
	for _, r := range []struct{ lo, hi, msg string }{
		{MasterRaftLeaderLeaseTimeout, MasterRaftHeartbeatTimeout, "must not exceed"},
		{MasterRaftHeartbeatTimeout, MasterRaftElectionTimeout, "must not exceed"},
	} {
		if !c.valid(r.lo) || !c.valid(r.hi) || c.Duration(r.lo) <= c.Duration(r.hi) {
			continue
		}
		name := r.lo
		if c.values[r.hi].seq > c.values[r.lo].seq {
			name = r.hi
		}
		s := c.values[name]
		errs = append(errs, &Error{Origin: c.Origin(name), Name: name, Msg: fmt.Sprintf("%q: %s (%s ms) %s %s (%s ms)",
			s.raw, r.lo, c.String(r.lo), r.msg, r.hi, c.String(r.hi))})
	}
	return errs
}

// checkOrder warns when duration lo is above duration hi: each wait is then hi, which is
// allowed but rarely meant.
func (c *Config) checkOrder(lo, hi string) (Warning, bool) {
	if !c.valid(lo) || !c.valid(hi) || c.Duration(lo) <= c.Duration(hi) {
		return Warning{}, false
	}
	origin := c.Origin(lo)
	if c.values[hi].seq > c.values[lo].seq {
		origin = c.Origin(hi)
	}
	return Warning{origin, fmt.Sprintf("property %s (%s ms) is above %s (%s ms): every wait will be %s ms",
		lo, c.String(lo), hi, c.String(hi), c.String(hi))}, true
}

// normalize checks v (expanded) as a value of p and returns it in the form Map gives. The
// error says what was wanted; the caller puts the value before it.
func normalize(p *Property, v string) (string, error) {
	switch p.Kind {
	case KindInt, KindPort:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			if p.Kind == KindPort {
				return "", errors.New("is not a port number")
			}
			return "", errors.New("is not an integer")
		}
		return strconv.FormatInt(n, 10), inRange(p, n, p.Unit)
	case KindDuration:
		ms, err := parseMillis(v)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(ms, 10), inRange(p, ms, "ms")
	case KindBool:
		switch strings.ToLower(v) {
		case "true", "false":
			return strings.ToLower(v), nil
		}
		return "", errors.New("is not a boolean: want true or false")
	case KindHost:
		if v == "" && p.Empty {
			return "", nil
		}
		if !validHost(v) {
			return "", errors.New("is not a host name or IP address")
		}
		return v, nil
	case KindList, KindHostList:
		return normalizeList(p, v)
	case KindChoice:
		for _, ch := range p.Choices {
			if strings.EqualFold(v, ch) {
				return ch, nil
			}
		}
		return "", fmt.Errorf("is not one of %s", strings.Join(p.Choices, ", "))
	default:
		if p.NonEmpty && v == "" {
			return "", errors.New("is empty: want a value")
		}
		return v, nil
	}
}

// inRange checks n against p's bounds.
func inRange(p *Property, n int64, unit string) error {
	if n >= p.Min && n <= p.Max {
		return nil
	}
	if unit != "" {
		unit = " " + unit
	}
	return fmt.Errorf("is out of range: want %d to %d%s", p.Min, p.Max, unit)
}

// parseMillis parses a duration: plain milliseconds as classic, or a Go duration with a unit.
func parseMillis(v string) (int64, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return ms, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("is not a duration: want milliseconds (30000) or a number with a unit (30s)")
	}
	if d%time.Millisecond != 0 {
		return 0, errors.New("is not a whole number of milliseconds")
	}
	return d.Milliseconds(), nil
}

// normalizeList checks a list or host list and joins its items with commas.
func normalizeList(p *Property, v string) (string, error) {
	items := splitList(v)
	if p.Kind == KindHostList {
		for _, it := range items {
			if err := checkHostItem(it); err != nil {
				return "", fmt.Errorf("has item %q that %v", it, err)
			}
		}
	}
	if int64(len(items)) < p.Min {
		what := "items"
		if p.Kind == KindHostList {
			what = "hosts"
		}
		return "", fmt.Errorf("has %d %s: want at least %d", len(items), what, p.Min)
	}
	return strings.Join(items, ","), nil
}

// splitList splits a comma list, dropping blanks around items and empty items.
func splitList(v string) []string {
	var items []string
	for it := range strings.SplitSeq(v, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	return items
}

// checkHostItem checks one item of a host list: host, host:port, IP or [IPv6]:port.
func checkHostItem(it string) error {
	host, port, err := splitHostPort(it)
	if err != nil || !validHost(host) {
		return errors.New("is not a host, host:port or IP address")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("has a port out of 1 to 65535")
		}
	}
	return nil
}

// splitHostPort splits a host list item; port is "" when the item has none.
func splitHostPort(it string) (host, port string, err error) {
	if net.ParseIP(it) != nil {
		return it, "", nil // a bare IPv6 address has colons but no port
	}
	if strings.HasPrefix(it, "[") || strings.Contains(it, ":") {
		return net.SplitHostPort(it)
	}
	return it, "", nil
}

// joinHostPort joins host and port, bracketing IPv6 hosts.
func joinHostPort(host, port string) string { return net.JoinHostPort(host, port) }

// validHost accepts an IP address or a DNS name (letters, digits, '-', '_', dots between
// non-empty labels, an optional final dot).
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
