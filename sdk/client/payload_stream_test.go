package client

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The streamed upload must carry exactly json.Marshal's bytes: its length
// is announced before it is sent, and the server reads it as that JSON.
func TestStreamJSONWritesWhatMarshalWrites(t *testing.T) {
	long := strings.Repeat("aé<€>&\u2028\"\\\n\x00", stringChunk/7) + "\xe2\x82" + strings.Repeat("\xff", 5) + strings.Repeat("😀", stringChunk/3)
	cases := []interface{}{
		map[string]interface{}{},
		map[string]interface{}(nil),
		map[string]interface{}{"b": 1.5, "a": []interface{}{nil, true, "x<y", map[string]interface{}{"z": json.Number("12")}}, "<k>": []interface{}(nil)},
		map[string]interface{}{"long": long, "n": 3.0, "nested": map[string]interface{}{"long": long[1:]}},
		map[string]interface{}{"s": strings.Repeat("x", stringChunk) + "é"},
	}
	for i, v := range cases {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := streamJSON(&got, v); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("case %d: streamed %d bytes differ from json.Marshal's %d", i, got.Len(), len(want))
		}
		if n, _ := jsonSize(v); n != int64(len(want)) {
			t.Errorf("case %d: jsonSize %d, want %d", i, n, len(want))
		}
	}
}
