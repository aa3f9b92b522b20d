package faults

import (
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// The scan TestMain runs must be able to fail: each kind of leak in a
// synthetic capture is reported, and what is allowed is not.
func TestScanFindsLeaks(t *testing.T) {
	token := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
	for _, tc := range []struct {
		name    string
		entries []logEntry
		errs    []string
		want    string // "" = no problem
	}{
		{"clean", []logEntry{{level: logrus.WarnLevel, text: `msg="poll failing" taskType=x`}}, nil, ""},
		{"secret at debug", []logEntry{{level: logrus.DebugLevel, text: "auth " + keySecret}}, nil, "key secret"},
		{"wrong secret in an error", nil, []string{"refused: " + wrongSecret}, "key secret"},
		{"JWT", []logEntry{{level: logrus.DebugLevel, text: "token=" + token}}, nil, "JWT"},
		{"token signature alone", []logEntry{{level: logrus.ErrorLevel, text: "sig c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"}}, nil, "signature"},
		{"payload at info", []logEntry{{level: logrus.InfoLevel, text: "input=" + payloadMarker}}, nil, "payload"},
		{"payload at debug is allowed", []logEntry{{level: logrus.DebugLevel, text: "input=" + payloadMarker}}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := scan(tc.entries, tc.errs, []string{token})
			switch {
			case tc.want == "" && len(problems) != 0:
				t.Errorf("unexpected problems: %q", problems)
			case tc.want != "" && (len(problems) == 0 || !strings.Contains(problems[0], tc.want)):
				t.Errorf("want a problem mentioning %q, got %q", tc.want, problems)
			}
		})
	}
}
