package javatime

import (
	"strings"
	"time"
)

// zone is a zone name SimpleDateFormat would print for the US locale, with its offset.
type zone struct {
	short, long string
	offset      int // seconds east of UTC
}

// zones lists the names parsing understands. Java resolves a name to a full time zone; a name
// here stands for its fixed offset, which is what the name means at the instant it was written.
var zones = []zone{
	{"UTC", "Coordinated Universal Time", 0},
	{"GMT", "Greenwich Mean Time", 0},
	{"UT", "Universal Time", 0},
	{"EST", "Eastern Standard Time", -5 * 3600},
	{"EDT", "Eastern Daylight Time", -4 * 3600},
	{"CST", "Central Standard Time", -6 * 3600},
	{"CDT", "Central Daylight Time", -5 * 3600},
	{"MST", "Mountain Standard Time", -7 * 3600},
	{"MDT", "Mountain Daylight Time", -6 * 3600},
	{"PST", "Pacific Standard Time", -8 * 3600},
	{"PDT", "Pacific Daylight Time", -7 * 3600},
	{"AKST", "Alaska Standard Time", -9 * 3600},
	{"AKDT", "Alaska Daylight Time", -8 * 3600},
	{"HST", "Hawaii Standard Time", -10 * 3600},
	{"AST", "Atlantic Standard Time", -4 * 3600},
	{"ADT", "Atlantic Daylight Time", -3 * 3600},
	{"WET", "Western European Time", 0},
	{"WEST", "Western European Summer Time", 3600},
	{"BST", "British Summer Time", 3600},
	{"CET", "Central European Time", 3600},
	{"CEST", "Central European Summer Time", 2 * 3600},
	{"EET", "Eastern European Time", 2 * 3600},
	{"EEST", "Eastern European Summer Time", 3 * 3600},
	{"MSK", "Moscow Standard Time", 3 * 3600},
	{"IST", "India Standard Time", 5*3600 + 1800},
	{"JST", "Japan Standard Time", 9 * 3600},
	{"KST", "Korea Standard Time", 9 * 3600},
	{"AEST", "Australian Eastern Standard Time", 10 * 3600},
	{"AEDT", "Australian Eastern Daylight Time", 11 * 3600},
}

// appendZoneName writes t's zone as 'z' does: the abbreviation, or the long name for zzzz when
// it is known. Go names a zone without an abbreviation by its offset ("+0530"); Java writes
// such a zone as GMT+05:30.
func appendZoneName(dst []byte, t time.Time, long bool) []byte {
	name, off := t.Zone()
	if name == "" || name[0] == '+' || name[0] == '-' {
		dst = append(dst, "GMT"...)
		if off == 0 {
			return dst
		}
		return appendOffset(dst, off, true, true)
	}
	if long {
		for _, z := range zones {
			if z.short == name && z.offset == off {
				return append(dst, z.long...)
			}
		}
	}
	return append(dst, name...)
}

// parseZone reads a zone as 'z' and 'Z' parse it: GMT with an optional offset, a numeric
// offset (-0800, -08:00, -8), or a zone name. It returns the offset in seconds and the bytes
// read, 0 if none matched.
func parseZone(s string) (int, int) {
	if len(s) >= 3 && strings.EqualFold(s[:3], "GMT") {
		if off, n := parseNumericZone(s[3:]); n > 0 {
			return off, 3 + n
		}
		return 0, 3
	}
	if off, n := parseNumericZone(s); n > 0 {
		return off, n
	}
	best, bestLen := 0, 0
	for _, z := range zones {
		for _, name := range [...]string{z.long, z.short} {
			if len(name) > bestLen && len(s) >= len(name) && strings.EqualFold(s[:len(name)], name) {
				best, bestLen = z.offset, len(name)
			}
		}
	}
	return best, bestLen
}

// parseISOZone reads an ISO 8601 zone as X, XX or XXX parse it: Z, or an offset of the form
// +hh, +hhmm or +hh:mm respectively.
func parseISOZone(s string, count int) (int, int) {
	if len(s) > 0 && (s[0] == 'Z' || s[0] == 'z') {
		return 0, 1
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') || !isDigit(s[1]) || !isDigit(s[2]) {
		return 0, 0
	}
	h := int(s[1]-'0')*10 + int(s[2]-'0')
	n, m := 3, 0
	switch count {
	case 2:
		if len(s) < 5 || !isDigit(s[3]) || !isDigit(s[4]) {
			return 0, 0
		}
		m, n = int(s[3]-'0')*10+int(s[4]-'0'), 5
	case 3:
		if len(s) < 6 || s[3] != ':' || !isDigit(s[4]) || !isDigit(s[5]) {
			return 0, 0
		}
		m, n = int(s[4]-'0')*10+int(s[5]-'0'), 6
	}
	if h > 23 || m > 59 {
		return 0, 0
	}
	return sign(s[0]) * (h*3600 + m*60), n
}

// parseNumericZone reads an offset of the form +h, +hh, +hhmm or +hh:mm (or with -).
func parseNumericZone(s string) (int, int) {
	if len(s) < 2 || (s[0] != '+' && s[0] != '-') || !isDigit(s[1]) {
		return 0, 0
	}
	i, h := 2, int(s[1]-'0')
	if i < len(s) && isDigit(s[i]) {
		h = h*10 + int(s[i]-'0')
		i++
	}
	m := 0
	switch {
	case i+2 < len(s) && s[i] == ':' && isDigit(s[i+1]) && isDigit(s[i+2]):
		m = int(s[i+1]-'0')*10 + int(s[i+2]-'0')
		i += 3
	case i == 3 && i+1 < len(s) && isDigit(s[i]) && isDigit(s[i+1]):
		m = int(s[i]-'0')*10 + int(s[i+1]-'0')
		i += 2
	}
	if h > 23 || m > 59 {
		return 0, 0
	}
	return sign(s[0]) * (h*3600 + m*60), i
}

func sign(c byte) int {
	if c == '-' {
		return -1
	}
	return 1
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
