package server

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/builtfast/vectord/catalog"
)

// FuzzDecodeBackupRequest checks that the POST /api/v1/backups body decoder
// never panics and that whatever it accepts is a request the daemon can
// act on: a site, an accepted trigger, no control characters, and the
// same request when encoded and decoded again.
func FuzzDecodeBackupRequest(f *testing.F) {
	for _, seed := range []string{
		`{"site":"acme"}`,
		`{"site":"acme","environment":"production","reason":"before plugin update","trigger":"manual"}`,
		`{"site":"acme","trigger":"pre-import"}`,
		`{"site":"acme","trigger":"schedule"}`,
		`{"site":"acme","env":"production"}`,
		`{"site":"acme"}{"site":"other"}`,
		`{"site":"acme","reason":"\u001b[2J"}`,
		`{"Site":"acme","SITE":"other"}`,
		`{"site":"\u00e9t\u00e9","reason":"\ud800"}`,
		`{"site":null}`,
		`null`,
		`[]`,
		`{"site":"acme"`,
		``,
		"{\"site\":\"acme\"}\n\n",
		`{"site":"a","site":"b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeBackupRequest(strings.NewReader(string(body)))
		if err != nil {
			if req != (backupRequest{}) {
				t.Fatalf("decodeBackupRequest(%q) = %+v with error %v, want a zero request", body, req, err)
			}
			return
		}
		if req.Site == "" {
			t.Fatalf("decodeBackupRequest(%q) accepted a request without site", body)
		}
		if req.Trigger != catalog.TriggerManual && req.Trigger != catalog.TriggerPreImport {
			t.Fatalf("decodeBackupRequest(%q) accepted trigger %q", body, req.Trigger)
		}
		for _, v := range []string{req.Site, req.Environment, req.Reason} {
			if strings.ContainsFunc(v, unicode.IsControl) {
				t.Fatalf("decodeBackupRequest(%q) accepted control characters in %q", body, v)
			}
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, err := decodeBackupRequest(strings.NewReader(string(again)))
		if err != nil || req2 != req {
			t.Fatalf("re-decoding %s = %+v, %v; want %+v", again, req2, err, req)
		}
	})
}
