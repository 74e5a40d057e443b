package catalog

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeRecord: a stored record, however damaged, decodes to a valid
// record or an error, never a panic; what decodes survives a round trip.
func FuzzDecodeRecord(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "record.golden.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Add([]byte(`[]`))
	f.Add(golden[:len(golden)/2])
	f.Add(bytes.Replace(golden, []byte(`"zstd"`), []byte(`7`), 1))
	f.Add(bytes.Replace(golden, []byte(`"2025-03-14T02:00:03.123456789Z"`), []byte(`"yesterday"`), 1))
	f.Add(bytes.Replace(golden, []byte(`"locations": [`), []byte(`"locations": [null, `), 1))
	f.Add(bytes.Replace(golden, []byte(`734003200`), []byte(`1e400`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("decodeRecord accepted an invalid record: %v", err)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decodeRecord(again)
		if err != nil {
			t.Fatalf("decodeRecord(re-encoded) = %v", err)
		}
		if diff := cmp.Diff(r, back); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseIndex: an ids bucket value parses to parts that encode back to
// it, or to an error.
func FuzzParseIndex(f *testing.F) {
	r := goldenRecord()
	f.Add(indexValue(r.Site, r.Environment, recordKey(r)))
	f.Add([]byte{})
	f.Add([]byte{0, 0})
	f.Add([]byte("acme\x00production\x00"))
	f.Add([]byte("acme\x00production\x00\x00\x00\x00\x00\x00\x00\x00\x0001jp9m2x3c8v4k7n6q5r0s1t2w"))
	f.Fuzz(func(t *testing.T, v []byte) {
		site, env, key, err := parseIndex(v)
		if err != nil {
			return
		}
		if got := indexValue(site, env, key); !bytes.Equal(got, v) {
			t.Fatalf("indexValue(parseIndex(%q)) = %q", v, got)
		}
	})
}
