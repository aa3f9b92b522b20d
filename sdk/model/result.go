package model

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/baton-go/baton/internal/plainjson"
)

// MaxReasonLength is how much of a reason for incompletion the server keeps.
const MaxReasonLength = 500

// OutputToMap converts a handler's output to the JSON object sent as task
// output, and returns its encoded size. nil and nil pointers give an empty
// object. A value that cannot be encoded, or that encodes to anything but an
// object, is an error that says which.
func OutputToMap(output interface{}) (map[string]interface{}, int, error) {
	if output == nil {
		return map[string]interface{}{}, 2, nil
	}
	m, isMap := output.(map[string]interface{})
	if isMap {
		if m == nil {
			return map[string]interface{}{}, 2, nil
		}
		// Most handlers return a map of plain JSON values: measure it
		// without encoding it through reflection (the client encodes it
		// again to send it).
		if n, ok := plainjson.Size(m); ok {
			return m, n, nil
		}
	}
	data, err := json.Marshal(output)
	if err != nil {
		if path := unencodablePath(output); path != "" {
			return nil, 0, fmt.Errorf("task output field %q (in a %T) cannot be encoded as JSON: %v", path, output, err)
		}
		return nil, 0, fmt.Errorf("task output of type %T cannot be encoded as JSON: %v", output, err)
	}
	if isMap {
		return m, len(data), nil
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		return map[string]interface{}{}, 2, nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, 0, fmt.Errorf("task output of type %T encodes to %s, want a JSON object", output, jsonKind(trimmed))
	}
	m = make(map[string]interface{})
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, 0, fmt.Errorf("task output of type %T cannot be decoded as a JSON object: %v", output, err)
	}
	return m, len(data), nil
}

func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	default:
		return "a JSON number"
	}
}
