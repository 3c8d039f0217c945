package javatime

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// fields collects what a parse read, before the date is resolved from it. A zero stamp means
// the field was not given; stamps order the fields so the most recent of two rivals wins, as
// in java.util.Calendar.
type fields struct {
	stamp int

	era, year, weekYear, month, dom, doy, woy, wom, dowim, dow int
	eraSet, yearSet, weekYearSet, monthSet, domSet, doySet     bool
	woySet, womSet, dowimSet, dowSet, zoneSet                  bool
	hourOfDay, hour12, pm, minute, second, milli, offset       int
	hourOfDayStamp, hour12Stamp, pmStamp                       int
}

// Parse parses value, which must match the layout entirely. Fields are read in loc unless the
// value names a zone; the result is the instant in loc. Errors wrap ErrMismatch.
func (l *Layout) Parse(value string, loc *time.Location) (time.Time, error) {
	t, n, err := l.ParsePrefix(value, loc)
	if err == nil && n < len(value) {
		return time.Time{}, fmt.Errorf("%w: %q has extra text %q after the date %q", ErrMismatch,
			value, value[n:], l.pattern)
	}
	return t, err
}

// ParsePrefix parses a date at the start of value and returns it with the number of bytes
// read; text after the date is ignored, as DateFormat.parse(String) ignores it. Fields are read
// in loc unless the value names a zone; the result is the instant in loc. Errors wrap
// ErrMismatch and give the offset of the first byte that did not match.
func (l *Layout) ParsePrefix(value string, loc *time.Location) (time.Time, int, error) {
	if loc == nil {
		loc = time.Local
	}
	var f fields
	pos := 0
	for _, e := range l.elems {
		var ok bool
		if e.letter == 0 {
			ok = strings.HasPrefix(value[pos:], e.text)
			if ok {
				pos += len(e.text)
			}
		} else {
			for pos < len(value) && (value[pos] == ' ' || value[pos] == '\t') {
				pos++
			}
			pos, ok = l.field(&f, e, value, pos)
		}
		if !ok {
			return time.Time{}, 0, l.mismatch(value, pos, e)
		}
	}
	return f.resolve(loc).In(loc), pos, nil
}

func (l *Layout) mismatch(value string, pos int, e elem) error {
	want := fmt.Sprintf("%q", e.text)
	if e.letter != 0 {
		want = fmt.Sprintf("field %s", strings.Repeat(string(e.letter), e.count))
	}
	return fmt.Errorf("%w: %q at offset %d: want %s of pattern %q", ErrMismatch, value, pos, want, l.pattern)
}

// field reads one field at value[pos:] into f and returns the position after it.
func (l *Layout) field(f *fields, e elem, value string, pos int) (int, bool) {
	s := value[pos:]
	if !isNumeric(e.letter, e.count) {
		v, n := l.textField(f, e, s)
		if n == 0 {
			return pos, false
		}
		f.setText(e.letter, v)
		return pos + n, true
	}
	limit := len(s)
	if e.abut && e.count < limit {
		limit = e.count
	}
	v, n := parseInt(s[:limit])
	if n == 0 {
		return pos, false
	}
	if (e.letter == 'y' || e.letter == 'Y') && e.count <= 2 && n == 2 && isDigit(s[0]) {
		v = l.twoDigitYear(v)
	}
	f.setNumber(e.letter, v)
	return pos + n, true
}

// textField reads a name or a zone; it returns the value and the bytes read, 0 if none.
func (l *Layout) textField(f *fields, e elem, s string) (int, int) {
	switch e.letter {
	case 'G':
		return matchName(s, eraNames[:])
	case 'M', 'L':
		if v, n := matchName(s, monthNames[:]); n > 0 {
			return v + 1, n
		}
		v, n := matchName(s, monthShort[:])
		return v + 1, n
	case 'E':
		if v, n := matchName(s, dayNames[:]); n > 0 {
			return v, n
		}
		return matchName(s, dayShort[:])
	case 'a':
		return matchName(s, ampmNames[:])
	case 'X':
		return parseISOZone(s, e.count)
	}
	return parseZone(s) // z, Z
}

// matchName returns the index of the longest name that s starts with, ignoring case.
func matchName(s string, names []string) (int, int) {
	best, bestLen := -1, 0
	for i, name := range names {
		if len(name) > bestLen && len(s) >= len(name) && strings.EqualFold(s[:len(name)], name) {
			best, bestLen = i, len(name)
		}
	}
	return best, bestLen
}

// parseInt reads an optional minus sign and decimal digits, up to what fits in an int32 as a
// Java int field would; it returns the value and the bytes read, 0 if there is no number.
func parseInt(s string) (int, int) {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		i, neg = 1, true
	}
	start, v := i, 0
	for i < len(s) && isDigit(s[i]) {
		v = v*10 + int(s[i]-'0')
		if v > math.MaxInt32 {
			return 0, 0
		}
		i++
	}
	if i == start {
		return 0, 0
	}
	if neg {
		v = -v
	}
	return v, i
}

// twoDigitYear places a two-digit year in the hundred years starting at l.century.
func (l *Layout) twoDigitYear(v int) int {
	y := l.century/100*100 + v
	if y < l.century {
		y += 100
	}
	return y
}

func (f *fields) next() int {
	f.stamp++
	return f.stamp
}

func (f *fields) setText(letter byte, v int) {
	switch letter {
	case 'G':
		f.era, f.eraSet = v, true
	case 'M', 'L':
		f.month, f.monthSet = v, true
	case 'E':
		f.dow, f.dowSet = v, true
	case 'a':
		f.pm, f.pmStamp = v, f.next()
	default: // zones
		f.offset, f.zoneSet = v, true
	}
}

func (f *fields) setNumber(letter byte, v int) {
	switch letter {
	case 'y':
		f.year, f.yearSet = v, true
	case 'Y':
		f.weekYear, f.weekYearSet = v, true
	case 'M', 'L':
		f.month, f.monthSet = v, true
	case 'w':
		f.woy, f.woySet = v, true
	case 'W':
		f.wom, f.womSet = v, true
	case 'D':
		f.doy, f.doySet = v, true
	case 'd':
		f.dom, f.domSet = v, true
	case 'F':
		f.dowim, f.dowimSet = v, true
	case 'u':
		f.dow, f.dowSet = (v%7+7)%7, true // 1=Monday ... 7=Sunday
	case 'H':
		f.hourOfDay, f.hourOfDayStamp = v, f.next()
	case 'k':
		if v == 24 { // SimpleDateFormat reads hour 24 of 'k' as midnight of the same day
			v = 0
		}
		f.hourOfDay, f.hourOfDayStamp = v, f.next()
	case 'h':
		if v == 12 { // 12 AM is the first hour of the day
			v = 0
		}
		f.hour12, f.hour12Stamp = v, f.next()
	case 'K':
		f.hour12, f.hour12Stamp = v, f.next()
	case 'm':
		f.minute = v
	case 's':
		f.second = v
	case 'S':
		f.milli = v
	}
}

// resolve turns the fields into a time. Missing fields take January 1st 1970, midnight, as a
// fresh GregorianCalendar would; values out of range roll over.
func (f *fields) resolve(loc *time.Location) time.Time {
	if f.zoneSet {
		loc = time.FixedZone("", f.offset)
	}
	year := 1970
	switch {
	case f.yearSet:
		year = f.year
		if f.eraSet && f.era == 0 {
			year = 1 - year // BC: year 1 BC is Go's year 0
		}
	case f.weekYearSet:
		year = f.weekYear
	}
	month := 1
	if f.monthSet {
		month = f.month
	}
	day := f.day(year, month)
	hour := f.hourOfDay
	if f.useHour12() {
		hour = f.hour12 + 12*f.pm
	}
	return time.Date(year, time.January, day, hour, f.minute, f.second, f.milli*int(time.Millisecond), loc)
}

// useHour12 reports whether the hour comes from h or K with the AM/PM marker rather than from
// H or k. As in java.util.Calendar, the 12-hour pair counts as recent only when both parts were
// given, and is used on its own when no 24-hour field was.
func (f *fields) useHour12() bool {
	if f.hourOfDayStamp == 0 {
		return f.hour12Stamp > 0 || f.pmStamp > 0
	}
	return f.hour12Stamp > 0 && f.pmStamp > 0 && max(f.hour12Stamp, f.pmStamp) > f.hourOfDayStamp
}

// day returns the day of year (1 = January 1st, may roll over) the date fields designate.
func (f *fields) day(year, month int) int {
	monthStart := func(m int) int {
		t := time.Date(year, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		return civilDay(t.Year(), t.Month(), 1) - civilDay(year, time.January, 1) + 1
	}
	weekday := func(day int) int { // weekday of day of year, Sunday = 0
		return int(time.Date(year, time.January, day, 0, 0, 0, 0, time.UTC).Weekday())
	}
	dow := 0 // Sunday, the first day of the week, when only a week is given
	if f.dowSet {
		dow = f.dow
	}
	switch {
	case f.domSet:
		return monthStart(month) + f.dom - 1
	case f.doySet:
		return f.doy
	case f.woySet:
		wy := year
		if f.weekYearSet {
			wy = f.weekYear
		}
		start := week1Start(wy) - civilDay(year, time.January, 1) + 1
		return start + (f.woy-1)*7 + dow
	case f.dowimSet:
		first := monthStart(month)
		return first + ((dow-weekday(first))%7+7)%7 + (f.dowim-1)*7
	case f.womSet || f.dowSet:
		w := 1
		if f.womSet {
			w = f.wom
		}
		first := monthStart(month)
		return first - weekday(first) + (w-1)*7 + dow
	}
	return monthStart(month)
}
