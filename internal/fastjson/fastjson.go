// Package fastjson decodes JSON on the hot paths (task answers in the
// client, update bodies in the dev server) with github.com/goccy/go-json,
// several times faster than encoding/json on Conductor tasks, without
// accepting less than encoding/json does: a document go-json refuses, or
// panics on, is decoded again by encoding/json from the zero value, and
// that outcome (value or error text) stands. The opposite case, a document
// go-json accepts and encoding/json would refuse, is not checked at run
// time (it would cost a second decoding every time); the differential fuzz
// tests FuzzTaskDecoders (sdk/client) and FuzzTaskResult (here) assert
// that it does not happen.
package fastjson

import (
	"encoding/json"
	"fmt"

	gojson "github.com/goccy/go-json"
)

// Unmarshal stores in *v, which must be the zero value, what
// json.Unmarshal(data, v) would, or returns encoding/json's error.
func Unmarshal[T any](data []byte, v *T) error {
	if fast(data, v) == nil {
		return nil
	}
	// go-json may have filled part of *v before it failed; encoding/json
	// would merge into that, so it starts from the zero value again.
	var zero T
	*v = zero
	return json.Unmarshal(data, v)
}

// fast decodes with go-json; a panic inside it (a bug of the library on
// some input) becomes an error, so encoding/json gets the document instead
// of the process crashing.
func fast[T any](data []byte, v *T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("go-json panicked: %v", p)
		}
	}()
	return gojson.Unmarshal(data, v)
}
