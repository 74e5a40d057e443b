package vectorapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func decodeExportBody(body string) (Export, error) {
	env, err := decodeEnvelope([]byte(body))
	if err != nil {
		return Export{}, err
	}
	return decodeExport(env.data)
}

func TestDecodeExportTolerance(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    Export
		wantErr string
	}{
		{name: "documented spelling", body: `{"data":{"export_id":"e1","status":"completed","download_url":"https://s3.example/e1.sql?sig=1","expires_at":"2026-01-24T13:00:00Z"}}`,
			want: Export{ID: "e1", Status: "completed", DownloadURL: "https://s3.example/e1.sql?sig=1", ExpiresAt: utc("2026-01-24T13:00:00Z")}},
		{name: "openapi spelling", body: `{"data":{"id":"e1","status":"completed","download_url":"https://s3.example/e1.sql","download_expires_at":"2025-01-15T13:00:00+00:00"}}`,
			want: Export{ID: "e1", Status: "completed", DownloadURL: "https://s3.example/e1.sql", ExpiresAt: utc("2025-01-15T13:00:00Z")}},
		{name: "export_id wins over id", body: `{"data":{"export_id":"e1","id":"other"}}`, want: Export{ID: "e1"}},
		{name: "null export_id falls back to id", body: `{"data":{"export_id":null,"id":"e2"}}`, want: Export{ID: "e2"}},
		{name: "numeric id", body: `{"data":{"id":12345}}`, want: Export{ID: "12345"}},
		{name: "offset normalised to UTC", body: `{"data":{"expires_at":"2025-01-15T14:30:00+02:00"}}`, want: Export{ExpiresAt: utc("2025-01-15T12:30:00Z")}},
		{name: "fractional seconds", body: `{"data":{"expires_at":"2025-01-15T12:00:00.123456Z"}}`, want: Export{ExpiresAt: utc("2025-01-15T12:00:00Z").Add(123456 * time.Microsecond)}},
		{name: "space separator", body: `{"data":{"expires_at":"2025-01-15 12:00:00+00:00"}}`, want: Export{ExpiresAt: utc("2025-01-15T12:00:00Z")}},
		{name: "size as number", body: `{"data":{"size_bytes":52428800}}`, want: Export{SizeBytes: 52428800}},
		{name: "size as string", body: `{"data":{"size_bytes":" 52428800 "}}`, want: Export{SizeBytes: 52428800}},
		{name: "size as float", body: `{"data":{"size_bytes":5.0e3}}`, want: Export{SizeBytes: 5000}},
		{name: "size null", body: `{"data":{"size_bytes":null}}`, want: Export{}},
		{name: "size empty string", body: `{"data":{"size_bytes":""}}`, want: Export{}},
		{name: "null everything", body: `{"data":{"id":null,"status":null,"download_url":null,"expires_at":null,"error_message":null}}`, want: Export{}},
		{name: "status normalised", body: `{"data":{"status":" Completed "}}`, want: Export{Status: "completed"}},
		{name: "failure message", body: `{"data":{"status":"failed","error_message":"mysqldump: Got error 2013"}}`, want: Export{Status: "failed", ErrorMessage: "mysqldump: Got error 2013"}},
		{name: "failure in message", body: `{"data":{"status":"failed","message":"disk full"}}`, want: Export{Status: "failed", ErrorMessage: "disk full"}},
		{name: "message of a running export is no failure", body: `{"data":{"status":"processing","message":"working"}}`, want: Export{Status: "processing"}},
		{name: "data as empty array", body: `{"data":[],"message":"ok"}`, want: Export{}},
		{name: "unwrapped answer", body: `{"export_id":"e1","status":"pending"}`, want: Export{ID: "e1", Status: "pending"}},
		{name: "empty body", body: ``, want: Export{}},
		{name: "unknown fields ignored", body: `{"data":{"id":"e1","format":"sql","vector_site_id":"s","duration_ms":"30000"}}`, want: Export{ID: "e1"}},

		{name: "bad time names the field", body: `{"data":{"download_expires_at":"next tuesday"}}`, wantErr: `field download_expires_at: want an RFC 3339 time, got "next tuesday"`},
		{name: "time without zone", body: `{"data":{"expires_at":"2025-01-15T12:00:00"}}`, wantErr: "field expires_at: want an RFC 3339 time"},
		{name: "time as number", body: `{"data":{"expires_at":1736942400}}`, wantErr: "field expires_at: want an RFC 3339 time, got a number"},
		{name: "size not a number", body: `{"data":{"size_bytes":"lots"}}`, wantErr: "field size_bytes: want an integer"},
		{name: "size fractional", body: `{"data":{"size_bytes":1.5}}`, wantErr: "field size_bytes: want an integer"},
		{name: "size negative", body: `{"data":{"size_bytes":-1}}`, wantErr: "field size_bytes: want a non-negative integer"},
		{name: "size boolean", body: `{"data":{"size_bytes":true}}`, wantErr: "field size_bytes: want an integer"},
		{name: "status not a string", body: `{"data":{"status":3}}`, wantErr: "field status: want a string, got a number"},
		{name: "id an object", body: `{"data":{"id":{"v":1}}}`, wantErr: "field id: want a string or an integer id, got an object"},
		{name: "url an object", body: `{"data":{"download_url":{"href":"https://s3.example/x?X-Amz-Signature=` + testSig + `"}}}`, wantErr: "field download_url: want a string, got an object"},
		{name: "url relative", body: `{"data":{"download_url":"/x.sql?X-Amz-Signature=` + testSig + `"}}`, wantErr: "field download_url: want an absolute http(s) URL"},
		{name: "data a string", body: `{"data":"done"}`, wantErr: "field data: want an object, got a string"},
		{name: "not JSON", body: `<html>502</html>`, wantErr: "decode answer: invalid JSON at byte 1"},
		{name: "JSON null", body: `null`, wantErr: "decode answer: the answer is null"},
		{name: "JSON array", body: `[1]`, wantErr: "decode answer: want a JSON object, got a JSON array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeExportBody(tc.body)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decode = %+v, %v; want error containing %q", got, err, tc.wantErr)
				}
				assertNoSecret(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
			if !got.ExpiresAt.IsZero() && got.ExpiresAt.Location() != time.UTC {
				t.Errorf("ExpiresAt %v is not in UTC", got.ExpiresAt)
			}
		})
	}
}

func TestDecodeImportSession(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    ImportSession
		wantErr string
		wantIs  error
	}{
		{name: "documented", body: `{"data":{"import_id":"imp_1","upload_url":"https://s3.example/i?sig=1","expires_at":"2026-01-24T12:00:00Z"}}`,
			want: ImportSession{ID: "imp_1", UploadURL: "https://s3.example/i?sig=1", ExpiresAt: utc("2026-01-24T12:00:00Z")}},
		{name: "openapi", body: `{"data":{"id":"imp_1","is_multipart":false,"part_count":null,"upload_url":"https://s3.example/i","upload_expires_at":"2025-01-16T12:00:00+00:00"}}`,
			want: ImportSession{ID: "imp_1", UploadURL: "https://s3.example/i", ExpiresAt: utc("2025-01-16T12:00:00Z")}},
		{name: "multipart flag", body: `{"data":{"id":"imp_1","is_multipart":true,"part_count":"3","upload_id":"u1","upload_parts":[{"part_number":1,"url":"https://s3.example/p1"}]}}`,
			want: ImportSession{ID: "imp_1", Multipart: true, UploadID: "u1", PartCount: 3, Parts: []UploadPart{{Number: 1, URL: "https://s3.example/p1"}}}},
		{name: "parts without flag", body: `{"data":{"id":"imp_1","upload_parts":[{"url":"https://s3.example/p1"},{"url":"https://s3.example/p2"}]}}`,
			want: ImportSession{ID: "imp_1", Multipart: true, PartCount: 2, Parts: []UploadPart{{Number: 1, URL: "https://s3.example/p1"}, {Number: 2, URL: "https://s3.example/p2"}}}},
		{name: "multipart without part urls", body: `{"data":{"id":"imp_1","is_multipart":true,"part_count":3,"upload_parts":[]}}`,
			wantErr: "import session imp_1 asks for a multipart upload in 3 parts but lists no part URLs"},
		{name: "no upload url", body: `{"data":{"id":"imp_1"}}`, wantErr: "import session imp_1 has no upload_url"},
		{name: "no id", body: `{"data":{"upload_url":"https://s3.example/i"}}`, wantErr: "the answer has no import id"},
		{name: "parts not a list", body: `{"data":{"id":"i","upload_parts":"many"}}`, wantErr: "field upload_parts: want an array, got a string"},
		{name: "flag not a boolean", body: `{"data":{"id":"i","is_multipart":"maybe"}}`, wantErr: "field is_multipart: want a boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := decodeEnvelope([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeImportSession(env.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decode = %+v, %v; want error containing %q", got, err, tc.wantErr)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("error %v does not match %v", err, tc.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeImport(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    Import
		wantErr string
	}{
		{name: "failed with error_message", body: `{"data":{"import_id":"i","status":"failed","error_message":"ERROR 1064 at line 3","started_at":"2026-01-24T11:45:00-05:00"}}`,
			want: Import{ID: "i", Status: "failed", ErrorMessage: "ERROR 1064 at line 3", StartedAt: utc("2026-01-24T16:45:00Z")}},
		{name: "failed with message", body: `{"data":{"id":"i","status":"failed","message":"syntax error"}}`,
			want: Import{ID: "i", Status: "failed", ErrorMessage: "syntax error"}},
		{name: "uploaded", body: `{"data":{"id":"i","status":"uploaded","completed_at":null}}`, want: Import{ID: "i", Status: "uploaded"}},
		{name: "bad completed_at", body: `{"data":{"id":"i","completed_at":"soon"}}`, wantErr: "field completed_at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := decodeEnvelope([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeImport(env.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decode = %+v, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeAPIErrorExcerpts(t *testing.T) {
	long := strings.Repeat("x", 500)
	tests := []struct {
		name, body, wantMsg string
	}{
		{"HTML page", "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>", ""},
		{"XML", `<?xml version="1.0"?><Error/>`, ""},
		{"plain text collapsed", "error:\r\n\tupstream\x00 timed out", "error: upstream timed out"},
		{"invalid UTF-8", "bad \xff\xfe bytes", "bad ? bytes"},
		{"long text cut", long, strings.Repeat("x", 120) + "…"},
		{"long JSON message cut", `{"message":"` + long + `"}`, strings.Repeat("x", 200) + "…"},
		{"JSON error key", `{"error":"invalid_token"}`, "invalid_token"},
		{"JSON message not a string", `{"message":{"a":1}}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, _ := decodeAPIError([]byte(tc.body))
			if msg != tc.wantMsg {
				t.Errorf("message = %q, want %q", msg, tc.wantMsg)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "start export", StatusCode: 401, Message: "Unauthenticated"}, "start export: the API token was rejected (HTTP 401): check api.token"},
		{&Error{Op: "start export", StatusCode: 429, Message: "Too Many Attempts.", RetryAfter: 1500 * time.Millisecond}, "start export: HTTP 429: Too Many Attempts. (retry after 2s)"},
		{&Error{Op: "export status", StatusCode: 500}, "export status: HTTP 500: Internal Server Error"},
		{&Error{Op: "download https://h/p", StatusCode: 403, kind: ErrURLExpired}, "download https://h/p: the presigned URL has expired or was refused (HTTP 403)"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	is := []struct {
		code int
		kind error
		want error
		not  error
	}{
		{401, nil, ErrUnauthorized, ErrURLExpired},
		{403, nil, ErrUnauthorized, ErrNotFound},
		{404, nil, ErrNotFound, ErrUnauthorized},
		{429, nil, ErrRateLimited, ErrUnauthorized},
		{403, ErrURLExpired, ErrURLExpired, ErrUnauthorized},
	}
	for _, tc := range is {
		e := &Error{StatusCode: tc.code, kind: tc.kind}
		if !errors.Is(e, tc.want) || errors.Is(e, tc.not) {
			t.Errorf("HTTP %d (kind %v): Is(%v) = %v, Is(%v) = %v", tc.code, tc.kind, tc.want, errors.Is(e, tc.want), tc.not, errors.Is(e, tc.not))
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := utc("2025-01-15T12:00:00Z")
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"seconds", map[string]string{"Retry-After": "30"}, 30 * time.Second},
		{"date", map[string]string{"Retry-After": "Wed, 15 Jan 2025 12:01:00 GMT"}, time.Minute},
		{"date in the past", map[string]string{"Retry-After": "Wed, 15 Jan 2025 11:00:00 GMT"}, 0},
		{"huge", map[string]string{"Retry-After": "99999999999999"}, 24 * time.Hour},
		{"negative", map[string]string{"Retry-After": "-5"}, 0},
		{"garbage falls through to reset", map[string]string{"Retry-After": "soon", "X-RateLimit-Reset": "1736942445"}, 45 * time.Second},
		{"reset as delta", map[string]string{"X-RateLimit-Reset": "20"}, 20 * time.Second},
		{"nothing", nil, 0},
	}
	for _, tc := range tests {
		h := http.Header{}
		for k, v := range tc.header {
			h.Set(k, v)
		}
		if got := retryAfter(h, now); got != tc.want {
			t.Errorf("%s: retryAfter = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in                string
		start, end, total int64
		wantErr           bool
	}{
		{"bytes 0-99/100", 0, 99, 100, false},
		{"bytes 10-99/*", 10, 99, -1, false},
		{"bytes 10-9/100", 0, 0, 0, true},
		{"bytes 10-99/99", 0, 0, 0, true},
		{"bytes */100", 0, 0, 0, true},
		{"items 0-1/2", 0, 0, 0, true},
		{"bytes -1-5/10", 0, 0, 0, true},
		{"", 0, 0, 0, true},
	}
	for _, tc := range tests {
		s, e, n, err := parseContentRange(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && (s != tc.start || e != tc.end || n != tc.total)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", tc.in, s, e, n, err)
		}
	}
}

func TestExcerptIsPrintable(t *testing.T) {
	got := excerpt("a\x1b[31mred\u0085\u2028b", 50)
	if !utf8.ValidString(got) || strings.ContainsAny(got, "\x1b\u0085\u2028") {
		t.Errorf("excerpt = %q, want printable text", got)
	}
}
