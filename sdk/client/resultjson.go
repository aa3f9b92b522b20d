package client

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/baton-go/baton/sdk/model"
)

// appendResult appends the JSON of r exactly as json.Marshal(r) writes it
// (the same fields in the same order, the same omissions, the same string
// escaping with HTML characters escaped), without reflection over the
// struct: encoding a result was about a tenth of a worker's CPU per task.
// The output data and the logs, whose shapes are the handler's, still go
// through json.Marshal. FuzzResultEncoding holds it to json.Marshal.
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
	if r.OutputData == nil {
		dst = append(dst, "null"...)
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
