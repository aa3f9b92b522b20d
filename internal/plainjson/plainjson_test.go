package plainjson

import (
	"encoding/json"
	"math"
	"testing"
)

// TestSizeIsTheLengthOfJSONMarshal: for every value it accepts, Size gives
// what json.Marshal would write, and it refuses what encoding/json must
// handle itself (the caller then falls back to it).
func TestSizeIsTheLengthOfJSONMarshal(t *testing.T) {
	long := make([]interface{}, 300) // past the 512-byte stack buffer
	for i := range long {
		long[i] = "x<y>"
	}
	for _, v := range []interface{}{
		nil, true, "", "é\u2028\x01\"\\", 1.5, 1e-7, 1e21, math.Copysign(0, -1), int(-3), int64(1 << 62),
		map[string]interface{}{"b": 1.0, "a": []interface{}{nil, map[string]interface{}{}}, "&": "<>"},
		[]interface{}(nil), map[string]interface{}(nil), long,
	} {
		n, ok := Size(v)
		b, err := json.Marshal(v)
		if !ok || err != nil || n != len(b) {
			t.Errorf("Size(%#v) = %d, %v; json.Marshal wrote %d bytes (%v)", v, n, ok, len(b), err)
		}
	}
	for _, v := range []interface{}{math.NaN(), math.Inf(1), struct{}{}, map[string]string{}, float32(1)} {
		if _, ok := Size(v); ok {
			t.Errorf("Size(%#v) accepted a value for encoding/json", v)
		}
	}
}
