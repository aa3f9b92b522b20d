package retry

import "testing"

func TestRetryableTable(t *testing.T) {
	// status: read, write, result
	want := map[int][3]bool{
		400: {false, false, false},
		// Refused after a fresh token: evidence of a wrong key, never a
		// plain retry (issue 24: a worker stops on it after several).
		401: {false, false, false},
		403: {false, false, false},
		404: {false, false, false},
		408: {false, false, true},
		409: {false, false, false},
		429: {true, true, true},
		500: {false, false, true},
		502: {true, false, true},
		503: {true, true, true},
		504: {true, false, true},
	}
	for status, w := range want {
		for i, kind := range []Kind{Read, Write, Result} {
			if got := Retryable(kind, status); got != w[i] {
				t.Errorf("Retryable(%d, %d) = %v, want %v", kind, status, got, w[i])
			}
		}
	}
}
