package uuid

import (
	"regexp"
	"testing"
)

var v4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestFormatWritesTheCanonicalForm(t *testing.T) {
	b := [16]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}
	if got, want := Format(b), "01234567-89ab-cdef-fedc-ba9876543210"; got != want {
		t.Errorf("Format = %s, want %s", got, want)
	}
}

func TestV4SetsVersionAndVariant(t *testing.T) {
	var ones [16]byte
	for i := range ones {
		ones[i] = 0xff
	}
	for _, b := range [][16]byte{{}, ones} {
		if got := V4(b); !v4.MatchString(got) {
			t.Errorf("V4(%x) = %s, not a version 4 UUID", b, got)
		}
	}
	if a, b := NewV4(), NewV4(); !v4.MatchString(a) || a == b {
		t.Errorf("NewV4 gave %s and %s", a, b)
	}
}
