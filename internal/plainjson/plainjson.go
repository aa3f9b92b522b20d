// Package plainjson writes JSON for the values handlers return most (maps,
// slices, strings, numbers, booleans) without reflection, byte for byte as
// encoding/json writes them: the client encodes task results with it, and
// the worker measures a handler's output with it instead of encoding the
// output twice. Anything else is left to encoding/json (Append reports
// false). The client's FuzzResultEncoding holds it to json.Marshal.
package plainjson

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Append appends v as json.Marshal(v) writes it when v is made only of nil,
// bool, string, float64, int, int64, map[string]interface{} and
// []interface{} of those. Otherwise (or for a NaN or infinite float, or
// nesting past maxPlainDepth) it returns false, and the partly written dst
// must be discarded: the caller encodes v with json.Marshal, which also
// gives the exact error.
func Append(dst []byte, v interface{}) ([]byte, bool) { return appendValue(dst, v, 0) }

// Size is len(json.Marshal(v)) for a value Append accepts (ok false
// otherwise), measured in a buffer on the caller's stack for small values.
func Size(v interface{}) (n int, ok bool) {
	var buf [512]byte
	out, ok := appendValue(buf[:0], v, 0)
	return len(out), ok
}

// maxPlainDepth bounds appendValue's recursion; deeper values (or a
// map that contains itself) go to json.Marshal, which reports cycles.
const maxPlainDepth = 64

// appendValue appends v as json.Marshal would when v is made only of
// what handlers return most: nil, bool, string, float64, int, int64,
// map[string]interface{} and []interface{} of those. For anything else (or
// a NaN or infinite float, or nesting past maxPlainDepth) it returns false,
// and the caller encodes the whole value with json.Marshal instead, which
// also gives its exact error. The partly written dst is then discarded.
func appendValue(dst []byte, v interface{}, depth int) ([]byte, bool) {
	if depth > maxPlainDepth {
		return dst, false
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case string:
		return AppendString(dst, x), true
	case float64:
		return appendFloat(dst, x)
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case map[string]interface{}:
		if x == nil {
			return append(dst, "null"...), true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			var ok bool
			if dst, ok = appendValue(dst, x[k], depth+1); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	case []interface{}:
		if x == nil {
			return append(dst, "null"...), true
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = appendValue(dst, e, depth+1); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	}
	return dst, false
}

// appendFloat formats f as encoding/json does: the shortest
// representation, in exponent form only below 1e-6 or from 1e21 on, with
// a one-digit negative exponent written without its leading zero.
func appendFloat(dst []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string the way encoding/json does
// by default: ", \ and control characters escaped (\b \f \n \r \t short),
// <, > and & as \u003c \u003e \u0026, invalid UTF-8 as \ufffd, and U+2028
// and U+2029 escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
