package client

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/baton-go/baton/sdk/model"
)

// appendResult appends the JSON of r exactly as json.Marshal(r) writes it
// (the same fields in the same order, the same omissions, the same string
// escaping with HTML characters escaped), without reflection over the
// struct, and output data made of plain JSON values (maps, slices, strings,
// numbers, booleans) without reflection either: encoding results was a
// tenth of a worker's CPU per task in a pprof of make bench-conductor.
// Other output and the logs go through json.Marshal. FuzzResultEncoding
// holds it to json.Marshal byte for byte.
func appendResult(dst []byte, r *model.TaskResult) ([]byte, error) {
	dst = append(dst, `{"workflowInstanceId":`...)
	dst = appendJSONString(dst, r.WorkflowInstanceId)
	dst = append(dst, `,"taskId":`...)
	dst = appendJSONString(dst, r.TaskId)
	if r.ReasonForIncompletion != "" {
		dst = append(dst, `,"reasonForIncompletion":`...)
		dst = appendJSONString(dst, r.ReasonForIncompletion)
	}
	if r.CallbackAfterSeconds != 0 {
		dst = append(dst, `,"callbackAfterSeconds":`...)
		dst = strconv.AppendInt(dst, r.CallbackAfterSeconds, 10)
	}
	if r.WorkerId != "" {
		dst = append(dst, `,"workerId":`...)
		dst = appendJSONString(dst, r.WorkerId)
	}
	if r.Status != "" {
		dst = append(dst, `,"status":`...)
		dst = appendJSONString(dst, string(r.Status))
	}
	dst = append(dst, `,"outputData":`...)
	if out, ok := appendPlainValue(dst, r.OutputData, 0); ok {
		dst = out
	} else {
		b, err := json.Marshal(r.OutputData)
		if err != nil {
			return nil, err
		}
		dst = append(dst, b...)
	}
	if len(r.Logs) > 0 {
		b, err := json.Marshal(r.Logs)
		if err != nil {
			return nil, err
		}
		dst = append(dst, `,"logs":`...)
		dst = append(dst, b...)
	}
	if r.ExtendLease {
		dst = append(dst, `,"extendLease":true`...)
	}
	if r.ExternalOutputPayloadStoragePath != "" {
		dst = append(dst, `,"externalOutputPayloadStoragePath":`...)
		dst = appendJSONString(dst, r.ExternalOutputPayloadStoragePath)
	}
	if r.SubWorkflowId != "" {
		dst = append(dst, `,"subWorkflowId":`...)
		dst = appendJSONString(dst, r.SubWorkflowId)
	}
	return append(dst, '}'), nil
}

// maxPlainDepth bounds appendPlainValue's recursion; deeper values (or a
// map that contains itself) go to json.Marshal, which reports cycles.
const maxPlainDepth = 64

// appendPlainValue appends v as json.Marshal would when v is made only of
// what handlers return most: nil, bool, string, float64, int, int64,
// map[string]interface{} and []interface{} of those. For anything else (or
// a NaN or infinite float, or nesting past maxPlainDepth) it returns false,
// and the caller encodes the whole value with json.Marshal instead, which
// also gives its exact error. The partly written dst is then discarded.
func appendPlainValue(dst []byte, v interface{}, depth int) ([]byte, bool) {
	if depth > maxPlainDepth {
		return dst, false
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case string:
		return appendJSONString(dst, x), true
	case float64:
		return appendJSONFloat(dst, x)
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
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var ok bool
			if dst, ok = appendPlainValue(dst, x[k], depth+1); !ok {
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
			if dst, ok = appendPlainValue(dst, e, depth+1); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	}
	return dst, false
}

// appendJSONFloat formats f as encoding/json does: the shortest
// representation, in exponent form only below 1e-6 or from 1e21 on, with
// a one-digit negative exponent written without its leading zero.
func appendJSONFloat(dst []byte, f float64) ([]byte, bool) {
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

// appendJSONString appends s as a JSON string the way encoding/json does
// by default: ", \ and control characters escaped (\b \f \n \r \t short),
// <, > and & as \u003c \u003e \u0026, invalid UTF-8 as \ufffd, and U+2028
// and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
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
