package kaconf

import (
	"math"
	"strings"
	"time"
)

// Numbers are read as keepalived 2.2.7's read_int_func, read_unsigned_func
// and read_decimal_unsigned_long_func (lib/parser.c) read them while
// keepalived runs. Where a handler asks for a lenient read, keepalived
// then uses the number that starts the word ("2.5" is 2, "10x" is 10) if
// it is in range, and only warns; `keepalived -t` (which sets
// CONFIG_TEST_BIT) rejects the same word, so -t and a running keepalived
// may read a file differently. The converter follows the running one.

// kaWhite is keepalived's WHITE_SPACE, which read_unsigned_func skips.
const kaWhite = " \t\f\n\r\v"

// kaNum is the outcome of reading a number as keepalived does.
type kaNum struct {
	val int64
	// ok: keepalived uses val.
	ok bool
	// clean: the word is a number in range; when ok is set without it,
	// keepalived used the number that starts the word and logged a
	// warning (and keepalived -t reports an error).
	clean bool
}

// strtoul parses s as C's strtoul(s, &end, 10) on a 64-bit machine: blanks,
// a sign, digits. rest is what follows the number; with no digits at all it
// is s itself. A number above math.MaxUint64 saturates with overflow set.
func strtoul(s string) (v uint64, rest string, overflow bool) {
	i := 0
	for i < len(s) && strings.IndexByte(kaWhite, s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			v, overflow = math.MaxUint64, true
			continue
		}
		if !overflow {
			v = v*10 + d
		}
	}
	if i == start {
		return 0, s, false
	}
	if neg && !overflow {
		v = -v
	}
	return v, s[i:], overflow
}

// strtol parses s as C's strtol(s, &end, 10) on a 64-bit machine; a number
// out of int64's range saturates with overflow set.
func strtol(s string) (v int64, rest string, overflow bool) {
	i := 0
	for i < len(s) && strings.IndexByte(kaWhite, s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	u, rest, ovf := strtoul(s[i:])
	if rest == s[i:] {
		return 0, s, false
	}
	switch {
	case ovf || !neg && u > math.MaxInt64 || neg && u > math.MaxInt64+1:
		if neg {
			return math.MinInt64, rest, true
		}
		return math.MaxInt64, rest, true
	case neg:
		return -int64(u), rest, false
	}
	return int64(u), rest, false
}

// kaUnsigned reads s as read_unsigned_func(s, 10, &v, lo, hi, lenient).
func kaUnsigned(s string, lo, hi uint64, lenient bool) kaNum {
	offset := 0
	for offset < len(s) && strings.IndexByte(kaWhite, s[offset]) >= 0 {
		offset++
	}
	v, rest, ovf := strtoul(s[offset:])
	inRange := v >= lo && v <= hi
	clean := !strings.HasPrefix(s[offset:], "-") && rest == "" && !ovf && v <= math.MaxUint32 && inRange
	n := kaNum{val: int64(min(v, math.MaxInt64)), clean: clean, ok: clean || lenient && inRange}
	if !inRange {
		n.val = 0
	}
	return n
}

// kaInt reads s as read_int_func(s, 10, &v, lo, hi, lenient). val is what
// keepalived stores even when the read fails (a few handlers use it).
func kaInt(s string, lo, hi int64, lenient bool) kaNum {
	v, rest, ovf := strtol(s)
	inRange := v >= lo && v <= hi
	clean := rest == "" && !ovf && v >= math.MinInt32 && v <= math.MaxInt32 && inRange
	return kaNum{val: v, clean: clean, ok: clean || lenient && inRange}
}

// kaDecimal reads s as read_decimal_unsigned_long_func(s, &v, lo, hi,
// shift, lenient): a decimal fraction with at most shift places, returned
// times 10^shift, a further place rounding the last.
func kaDecimal(s string, lo, hi uint64, shift int, lenient bool) kaNum {
	if strings.HasPrefix(s, "-") {
		return kaNum{}
	}
	digits := s
	roundUp := false
	numDP := 0
	if dp := strings.IndexByte(s, '.'); dp >= 0 {
		numDP = len(s) - dp - 1
		if numDP > shift {
			roundUp = s[dp+shift+1] >= '5'
			numDP = shift
		}
		digits = s[:dp] + s[dp+1:dp+1+numDP]
	}
	digits += strings.Repeat("0", shift-numDP)
	v, rest, ovf := strtoul(digits)
	if roundUp {
		v++
	}
	inRange := v >= lo && v <= hi
	n := kaNum{val: int64(min(v, math.MaxInt64))}
	switch {
	case rest != "":
		n.ok = lenient && inRange
	case ovf:
	default:
		n.clean, n.ok = inRange, inRange
	}
	return n
}

// timerHz is keepalived's TIMER_HZ: its timers count microseconds, and
// TIMER_HZ_DIGITS decimal places of a second.
const (
	timerHz       = 1000000
	timerHzDigits = 6
)

// kaSeconds reads s as keepalived reads a timer in seconds with up to six
// decimal places, between lo and hi.
func kaSeconds(s string, lo, hi time.Duration, lenient bool) (time.Duration, kaNum) {
	n := kaDecimal(s, uint64(lo/time.Microsecond), uint64(hi/time.Microsecond), timerHzDigits, lenient)
	return time.Duration(n.val) * time.Microsecond, n
}

// kaTrueFalse reads s as check_true_false: 1 for true/on/yes, 0 for
// false/off/no, -1 otherwise.
func kaTrueFalse(s string) int {
	switch s {
	case "true", "on", "yes":
		return 1
	case "false", "off", "no":
		return 0
	}
	return -1
}
