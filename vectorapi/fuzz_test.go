package vectorapi

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// addExamples seeds f with every example answer in testdata.
func addExamples(f *testing.F) {
	files, err := filepath.Glob("testdata/*/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no examples in testdata: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"data":{"id":12,"size_bytes":"5.0","expires_at":"2025-01-15T13:00:00+02:00","status":"failed","message":"x"}}`))
	f.Add([]byte(`{"data":{"download_url":{"u":"https://s3/x?X-Amz-Signature=` + testSig + `"}}}`))
	f.Add([]byte(`{"data":{"download_url":"::` + testSig + `"}}`))
	f.Add([]byte(`{"data":{"id":"i","is_multipart":"1","part_count":"2","upload_id":7,"upload_parts":["https://s3/x?X-Amz-Signature=` + testSig + `",{"part_number":"2","url":"https://s3/y","size":"5"}]}}`))
	f.Add([]byte(`{"data":{"id":"i","is_multipart":true,"upload_parts":[{"part_number":1,"url":"::` + testSig + `"}]}}`))
	f.Add([]byte(`{"data":[]}`))
	f.Add([]byte(`<html>502</html>`))
	f.Add([]byte(``))
}

// checkDecodeError: decoding errors never quote a signature.
func checkDecodeError(t *testing.T, body []byte, err error) {
	if err != nil && strings.Contains(string(body), testSig) && strings.Contains(err.Error(), testSig) {
		t.Errorf("error quotes the signature: %v", err)
	}
}

func FuzzDecodeExport(f *testing.F) {
	addExamples(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := decodeEnvelope(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		e, err := decodeExport(env.data)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		if !e.ExpiresAt.IsZero() && e.ExpiresAt.Location() != time.UTC {
			t.Errorf("ExpiresAt %v not in UTC", e.ExpiresAt)
		}
		if e.SizeBytes < 0 {
			t.Errorf("SizeBytes = %d", e.SizeBytes)
		}
		if e.DownloadURL != "" && checkPresigned(e.DownloadURL) != nil {
			t.Errorf("DownloadURL %q is not an absolute URL", e.DownloadURL)
		}
		if e.Status != strings.ToLower(strings.TrimSpace(e.Status)) {
			t.Errorf("Status %q not normalised", e.Status)
		}
	})
}

func FuzzDecodeImportSession(f *testing.F) {
	addExamples(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := decodeEnvelope(body)
		if err != nil {
			return
		}
		s, err := decodeImportSession(env.data)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		if s.ID == "" || (!s.Multipart && checkPresigned(s.UploadURL) != nil) {
			t.Errorf("session %+v accepted without an id or a usable URL", s)
		}
		if s.Multipart {
			if len(s.Parts) == 0 || s.PartCount < 1 || s.PartCount > maxParts {
				t.Errorf("multipart session %+v accepted without part URLs or with %d parts", s, s.PartCount)
			}
			for _, p := range s.Parts {
				if p.Number < 1 || p.Number > maxParts || checkPresigned(p.URL) != nil || p.Size < 0 {
					t.Errorf("multipart session accepted with part %+v", p)
				}
			}
		}
		if !s.ExpiresAt.IsZero() && s.ExpiresAt.Location() != time.UTC {
			t.Errorf("ExpiresAt %v not in UTC", s.ExpiresAt)
		}
	})
}

func FuzzDecodeImport(f *testing.F) {
	addExamples(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := decodeEnvelope(body)
		if err != nil {
			return
		}
		im, err := decodeImport(env.data)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		for _, ts := range []time.Time{im.StartedAt, im.CompletedAt} {
			if !ts.IsZero() && ts.Location() != time.UTC {
				t.Errorf("time %v not in UTC", ts)
			}
		}
	})
}

func FuzzDecodeAPIError(f *testing.F) {
	addExamples(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, fieldErrs := decodeAPIError(body)
		check := func(s string, max int) {
			if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max+1 {
				t.Errorf("excerpt %q is not short valid UTF-8", s)
			}
			for _, r := range s {
				if r < 0x20 || r == 0x7f {
					t.Errorf("excerpt %q holds control characters", s)
				}
			}
		}
		check(msg, 200)
		for k, list := range fieldErrs {
			check(k, 60)
			for _, m := range list {
				check(m, 200)
			}
		}
		e := &Error{Op: "op", StatusCode: 422, Message: msg, Fields: fieldErrs}
		_ = e.Error()
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes 10-99/*", "bytes */100", "bytes 5-4/10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		start, end, total, err := parseContentRange(v)
		if err != nil {
			return
		}
		if start < 0 || end < start || (total != -1 && total <= end) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d", v, start, end, total)
		}
	})
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"30", "0", "-1", "Wed, 15 Jan 2025 12:01:00 GMT", "1736942445", "99999999999999999999"} {
		f.Add(s, s)
	}
	now := time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, retry, reset string) {
		h := http.Header{}
		h.Set("Retry-After", retry)
		h.Set("X-RateLimit-Reset", reset)
		if d := retryAfter(h, now); d < 0 || d > maxServerWait {
			t.Errorf("retryAfter(%q, %q) = %v", retry, reset, d)
		}
	})
}

// FuzzDecodeList: list pages and the backups, downloads and sites in them.
func FuzzDecodeList(f *testing.F) {
	addExamples(f)
	f.Add([]byte(`{"data":[{"id":"b","archivable_type":"vector_environment","archivable_id":7,"size_bytes":"12","status":"RUNNING"}],"meta":{"last_page":"3","pagination":{"total_pages":2}},"links":{"next":null}}`))
	f.Add([]byte(`{"data":{"data":[{"id":1,"environments":{"data":[{"id":2}]}}],"current_page":1,"next_page_url":"x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		items, info, err := decodeList(body)
		if err != nil {
			checkDecodeError(t, body, err)
		}
		if info.lastPage < 0 || info.perPage < 0 || info.total < -1 {
			t.Errorf("page info %+v", info)
		}
		if env, err := decodeEnvelope(body); err == nil {
			items = append(items, env.data)
		}
		for _, item := range items {
			if b, _, err := decodeBackup(item); err != nil {
				checkDecodeError(t, body, err)
			} else {
				if b.SizeBytes < -1 {
					t.Errorf("SizeBytes = %d", b.SizeBytes)
				}
				for _, ts := range []time.Time{b.CreatedAt, b.CompletedAt} {
					if !ts.IsZero() && ts.Location() != time.UTC {
						t.Errorf("time %v not in UTC", ts)
					}
				}
			}
			if d, err := decodeBackupDownload(item); err != nil {
				checkDecodeError(t, body, err)
			} else if d.SizeBytes < -1 || (d.DownloadURL != "" && checkPresigned(d.DownloadURL) != nil) {
				t.Errorf("download %+v", d)
			}
			if s, _, err := decodeSite(item); err != nil {
				checkDecodeError(t, body, err)
			} else {
				for _, e := range s.Environments {
					if e.ID == "" || (s.ID != "" && e.SiteID != s.ID) {
						t.Errorf("site %+v holds environment %+v", s, e)
					}
				}
			}
		}
	})
}
