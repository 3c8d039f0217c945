package event

import (
	"fmt"
	"strings"
)

// Priority is the severity of an event, in classic Flume's order: lower is more severe.
type Priority int8

// The priorities, with the numeric values of classic Flume's wire format.
const (
	FATAL Priority = iota
	ERROR
	WARN
	INFO
	DEBUG
	TRACE
)

var priorityNames = [...]string{"FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"}

// String returns the upper-case name of the priority, as classic Flume prints it.
func (p Priority) String() string {
	if p >= 0 && int(p) < len(priorityNames) {
		return priorityNames[p]
	}
	return fmt.Sprintf("Priority(%d)", int8(p))
}

// Valid reports whether p is one of the six priorities.
func (p Priority) Valid() bool { return p >= FATAL && p <= TRACE }

// ParsePriority parses a priority name, in any case ("info", "INFO").
func ParsePriority(s string) (Priority, error) {
	for i, n := range priorityNames {
		if strings.EqualFold(s, n) {
			return Priority(i), nil
		}
	}
	return INFO, fmt.Errorf("unknown priority %q: want one of %s", s, strings.Join(priorityNames[:], ", "))
}
