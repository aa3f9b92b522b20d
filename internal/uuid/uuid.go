// Package uuid writes UUIDs in their text form, for the ids the dev server
// hands out and the ids and keys the worker derives.
package uuid

import (
	"crypto/rand"
	"encoding/hex"
)

// Format writes b in the 8-4-4-4-12 hexadecimal form.
func Format(b [16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// V4 formats b as a version 4 (random) UUID: it sets the version and the
// RFC 9562 variant bits of b, whose other bits the caller has made random.
func V4(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return Format(b)
}

// NewV4 returns a new random UUID.
func NewV4() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return V4(b)
}
