package restore

import (
	neturl "net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestScrubMessage(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"ERROR 1064 (42000) at line 3: syntax error", "ERROR 1064 (42000) at line 3: syntax error"},
		{"could not read https://b.s3.amazonaws.com/k.sql?X-Amz-Signature=abc&X-Amz-Date=1 (403)", "could not read https://b.s3.amazonaws.com/k.sql (403)"},
		{"see https://example.com/docs for help", "see https://example.com/docs for help"},
		{"two\nlines\t and  spaces", "two lines and spaces"},
		{strings.Repeat("é", 600), strings.Repeat("é", 500) + "…"},
	}
	for _, tt := range tests {
		if got := scrubMessage(tt.in); got != tt.want {
			t.Errorf("scrubMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzScrubMessage: a URL's query never survives, the result is one line
// of bounded length, and valid UTF-8 stays valid.
func FuzzScrubMessage(f *testing.F) {
	f.Add("failed: ", "https://bucket.s3.amazonaws.com/imports/x.sql", "X-Amz-Signature=deadbeef", " (403)")
	f.Add("", "http://h/p", "a=b&c=d", "")
	f.Add("é\n", "s3://b/k", "sig=1", "\t日本")
	f.Fuzz(func(t *testing.T, before, url, query, after string) {
		u, err := neturl.Parse(url)
		if err != nil || !schemeRE.MatchString(url) || u.Host == "" || strings.ContainsAny(url+query, " \t\r\n\"'<>?#") || query == "" {
			return
		}
		if strings.ContainsFunc(before, isURLChar) && !strings.HasSuffix(before, " ") {
			before += " "
		}
		msg := before + url + "?" + query + " " + after
		got := scrubMessage(msg)
		// The query may appear by chance in the surrounding text; it must
		// not appear more often than there.
		if strings.Count(got, "?"+query) > strings.Count(before+" "+after, "?"+query) {
			t.Errorf("scrubMessage(%q) = %q: the query survived", msg, got)
		}
		if strings.ContainsAny(got, "\n\r") || len(got) > 1000+len("…") {
			t.Errorf("scrubMessage(%q) = %q: not one bounded line", msg, got)
		}
		if utf8.ValidString(msg) && !utf8.ValidString(got) {
			t.Errorf("scrubMessage(%q) = %q: invalid UTF-8", msg, got)
		}
	})
}

var schemeRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://`)

func isURLChar(r rune) bool { return r > ' ' && !strings.ContainsRune("\"'<>", r) }
