package client

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"unicode/utf8"
)

// Streaming the JSON of a large output: encoding/json builds the whole
// encoding in one growing buffer and then copies it, which for a 50 MB
// output held three to four times its size at the peak. streamJSON writes
// the same bytes as json.Marshal piece by piece: objects and arrays
// element by element, long strings in chunks, everything else through
// json.Marshal. The upload counts the bytes in a first pass (for the
// Content-Length a pre-signed PUT needs) and streams them in a second.

// stringChunk is how much of a long string is encoded at a time.
const stringChunk = 1 << 20

// streamJSON writes json.Marshal(v)'s bytes to w.
func streamJSON(w io.Writer, v interface{}) error {
	switch x := v.(type) {
	case map[string]interface{}:
		if x == nil {
			_, err := io.WriteString(w, "null")
			return err
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if _, err := io.WriteString(w, "{"); err != nil {
			return err
		}
		for i, k := range keys {
			if i > 0 {
				if _, err := io.WriteString(w, ","); err != nil {
					return err
				}
			}
			if err := writeString(w, k); err != nil {
				return err
			}
			if _, err := io.WriteString(w, ":"); err != nil {
				return err
			}
			if err := streamJSON(w, x[k]); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, "}")
		return err
	case []interface{}:
		if x == nil {
			_, err := io.WriteString(w, "null")
			return err
		}
		if _, err := io.WriteString(w, "["); err != nil {
			return err
		}
		for i, e := range x {
			if i > 0 {
				if _, err := io.WriteString(w, ","); err != nil {
					return err
				}
			}
			if err := streamJSON(w, e); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, "]")
		return err
	case string:
		return writeString(w, x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// writeString writes a JSON string chunk by chunk. Escaping is per rune (an
// invalid byte becomes \ufffd on its own), so cutting only where a rune
// starts gives the same bytes as encoding the whole.
func writeString(w io.Writer, s string) error {
	if len(s) <= stringChunk {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if _, err := io.WriteString(w, `"`); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // escapes HTML as json.Marshal does
	for len(s) > 0 {
		n := min(stringChunk, len(s))
		for n < len(s) && n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		if n == 0 { // no rune start in the chunk: cannot happen in practice
			n = min(stringChunk, len(s))
		}
		// Through one reused buffer: a new one per chunk would be garbage
		// that the collector lets pile up to the size of the live heap.
		buf.Reset()
		if err := enc.Encode(s[:n]); err != nil {
			return err
		}
		b := buf.Bytes()
		if _, err := w.Write(b[1 : len(b)-2]); err != nil { // without the quotes and Encode's newline
			return err
		}
		s = s[n:]
	}
	_, err := io.WriteString(w, `"`)
	return err
}

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// jsonSize is len(json.Marshal(v)) without building the bytes.
func jsonSize(v interface{}) (int64, error) {
	var c countWriter
	err := streamJSON(&c, v)
	return c.n, err
}
