package vectorapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// fields is one JSON object of an answer, decoded field by field so that
// every error names its field and both spellings of a field are accepted.
type fields map[string]json.RawMessage

// envelope is a decoded API answer: {"data": ..., "message": ..., "http_status": N}.
type envelope struct {
	data    fields
	message string
}

// decodeEnvelope decodes an API answer. An answer without "data" is taken
// as unwrapped: its top-level object is the data. A "data" of [] (how some
// servers spell an empty object) and an empty body give empty data.
func decodeEnvelope(body []byte) (envelope, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return envelope{data: fields{}}, nil
	}
	var top fields
	if err := json.Unmarshal(body, &top); err != nil {
		return envelope{}, fmt.Errorf("decode answer: %w", jsonProblem(err))
	}
	if top == nil {
		return envelope{}, errors.New("decode answer: the answer is null")
	}
	var env envelope
	msg, err := top.str("message")
	if err != nil {
		// The envelope's message is informational: ignore a strange one.
		msg = ""
	}
	env.message = msg
	raw, ok := top["data"]
	if !ok {
		env.data = top
		return env, nil
	}
	env.data, err = decodeObject("data", raw)
	if err != nil {
		return envelope{}, fmt.Errorf("decode answer: %w", err)
	}
	return env, nil
}

// decodeObject decodes raw as an object; null and [] give an empty one.
func decodeObject(name string, raw json.RawMessage) (fields, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) || bytes.Equal(raw, []byte("[]")) {
		return fields{}, nil
	}
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("field %s: want an object, got %s", name, kindOf(raw))
	}
	return f, nil
}

// lookup returns the first of names present with a non-null value.
func (f fields) lookup(names ...string) (string, json.RawMessage, bool) {
	for _, n := range names {
		raw, ok := f[n]
		if !ok {
			continue
		}
		raw = bytes.TrimSpace(raw)
		if isNull(raw) {
			continue
		}
		return n, raw, true
	}
	return "", nil, false
}

// str returns the first present string field of names; "" if none.
func (f fields) str(names ...string) (string, error) {
	name, raw, ok := f.lookup(names...)
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("field %s: want a string, got %s", name, kindOf(raw))
	}
	return s, nil
}

// id returns the first present id field of names, accepting a string or an
// integer; "" if none.
func (f fields) id(names ...string) (string, error) {
	name, raw, ok := f.lookup(names...)
	if !ok {
		return "", nil
	}
	if raw[0] == '"' {
		return f.str(name)
	}
	n, err := parseInt(raw)
	if err != nil {
		return "", fmt.Errorf("field %s: want a string or an integer id, got %s", name, kindOf(raw))
	}
	return strconv.FormatInt(n, 10), nil
}

// int returns the first present non-negative integer field of names,
// accepting JSON numbers and numeric strings; ok is false when absent,
// null or "".
func (f fields) int(names ...string) (n int64, ok bool, err error) {
	name, raw, present := f.lookup(names...)
	if !present {
		return 0, false, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false, fmt.Errorf("field %s: %w", name, jsonProblem(err))
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return 0, false, nil
		}
		raw = json.RawMessage(s)
	}
	n, err = parseInt(raw)
	if err != nil {
		return 0, false, fmt.Errorf("field %s: want an integer, got %s", name, kindOf(raw))
	}
	if n < 0 {
		return 0, false, fmt.Errorf("field %s: want a non-negative integer, got %d", name, n)
	}
	return n, true, nil
}

// parseInt parses a JSON number that holds an integer (also 5.0 or 5e3).
func parseInt(raw []byte) (int64, error) {
	s := string(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 || !json.Valid(raw) {
		return 0, errors.New("not an integer")
	}
	return int64(f), nil
}

// bool returns the first present boolean field of names, accepting true,
// false, 0, 1 and their string forms.
func (f fields) bool(names ...string) (bool, error) {
	name, raw, ok := f.lookup(names...)
	if !ok {
		return false, nil
	}
	switch strings.Trim(string(raw), `"`) {
	case "true", "1":
		return true, nil
	case "false", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("field %s: want a boolean, got %s", name, kindOf(raw))
}

// time returns the first present timestamp field of names in UTC; the zero
// time if absent, null or "".
func (f fields) time(names ...string) (time.Time, error) {
	name, raw, ok := f.lookup(names...)
	if !ok {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("field %s: want an RFC 3339 time, got %s", name, kindOf(raw))
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("field %s: want an RFC 3339 time, got %q", name, excerpt(s, 40))
}

// presignedURL returns the first present URL field of names, checking that
// it is an absolute http(s) URL. Errors never quote the value: it may hold
// a signature.
func (f fields) presignedURL(names ...string) (string, error) {
	s, err := f.str(names...)
	if err != nil || s == "" {
		return "", err
	}
	name, _, _ := f.lookup(names...)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("field %s: want an absolute http(s) URL", name)
	}
	return s, nil
}

// status returns a status field, trimmed and lower-cased.
func (f fields) status() (string, error) {
	s, err := f.str("status")
	return strings.ToLower(strings.TrimSpace(s)), err
}

// failure returns the error message of a failed export or import:
// error_message, else the data's message.
func (f fields) failure(status string) (string, error) {
	msg, err := f.str("error_message")
	if err != nil || msg != "" || status != "failed" {
		return msg, err
	}
	return f.str("message")
}

// decodeExport reads an export from an answer's data. It requires neither
// id nor status: the callers decide what they need.
func decodeExport(f fields) (Export, error) {
	var e Export
	var err error
	if e.ID, err = f.id("export_id", "id"); err != nil {
		return Export{}, err
	}
	if e.Status, err = f.status(); err != nil {
		return Export{}, err
	}
	if e.DownloadURL, err = f.presignedURL("download_url"); err != nil {
		return Export{}, err
	}
	if e.ExpiresAt, err = f.time("expires_at", "download_expires_at"); err != nil {
		return Export{}, err
	}
	if e.SizeBytes, _, err = f.int("size_bytes"); err != nil {
		return Export{}, err
	}
	if e.ErrorMessage, err = f.failure(e.Status); err != nil {
		return Export{}, err
	}
	return e, nil
}

// decodeImportSession reads an import session: a single upload (id,
// upload_url) or a multipart one (is_multipart, part_count, upload_id,
// upload_parts). It fails when the session has no id, when a single upload
// has no upload URL and when a multipart session lists no part URLs; that
// every part has a URL is UploadParts' to check (the OpenAPI example lists
// one URL for its 30 parts).
func decodeImportSession(f fields) (ImportSession, error) {
	var s ImportSession
	var err error
	if s.ID, err = f.id("import_id", "id"); err != nil {
		return ImportSession{}, err
	}
	if s.UploadURL, err = f.presignedURL("upload_url"); err != nil {
		return ImportSession{}, err
	}
	if s.ExpiresAt, err = f.time("expires_at", "upload_expires_at"); err != nil {
		return ImportSession{}, err
	}
	multipart, err := f.bool("is_multipart")
	if err != nil {
		return ImportSession{}, err
	}
	count, _, err := f.int("part_count")
	if err != nil {
		return ImportSession{}, err
	}
	if count > maxParts {
		return ImportSession{}, fmt.Errorf("field part_count: %d parts, more than storage allows (%d)", count, maxParts)
	}
	parts, err := decodeUploadParts(f)
	if err != nil {
		return ImportSession{}, err
	}
	if s.ContentLength, _, err = f.int("content_length"); err != nil {
		return ImportSession{}, err
	}
	if s.ID == "" {
		return ImportSession{}, errors.New("the answer has no import id")
	}
	if !multipart && (s.UploadURL != "" || (count == 0 && len(parts) == 0)) {
		if s.UploadURL == "" {
			return ImportSession{}, fmt.Errorf("import session %s has no upload_url", s.ID)
		}
		return s, nil
	}
	s.Multipart, s.Parts, s.PartCount = true, parts, int(count)
	if s.PartCount == 0 {
		s.PartCount = len(parts)
	}
	if s.UploadID, err = f.id("upload_id"); err != nil {
		return ImportSession{}, err
	}
	if s.PartSize, _, err = f.int("part_size"); err != nil {
		return ImportSession{}, err
	}
	if len(parts) == 0 {
		return ImportSession{}, fmt.Errorf("import session %s asks for a multipart upload in %d parts but lists no part URLs (upload_parts)", s.ID, s.PartCount)
	}
	return s, nil
}

// decodeUploadParts reads a multipart session's upload_parts: objects
// {"part_number":N,"url":"…"} (also upload_url; size or content_length
// when given), or bare URL strings numbered in list order.
func decodeUploadParts(f fields) ([]UploadPart, error) {
	name, raw, present := f.lookup("upload_parts")
	if !present {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("field %s: want an array, got %s", name, kindOf(raw))
	}
	if len(list) > maxParts {
		return nil, fmt.Errorf("field %s: %d parts, more than storage allows (%d)", name, len(list), maxParts)
	}
	parts := make([]UploadPart, 0, len(list))
	for i, item := range list {
		elem := fmt.Sprintf("%s[%d]", name, i)
		p := UploadPart{Number: i + 1}
		var err error
		if item = json.RawMessage(bytes.TrimSpace(item)); len(item) > 0 && item[0] == '"' {
			p.URL, err = fields{elem: item}.presignedURL(elem)
		} else {
			p, err = decodeUploadPart(elem, item, i+1)
		}
		if err != nil {
			return nil, err
		}
		if p.URL == "" {
			return nil, fmt.Errorf("field %s: no url", elem)
		}
		parts = append(parts, p)
	}
	return parts, nil
}

func decodeUploadPart(elem string, raw json.RawMessage, index int) (UploadPart, error) {
	if isNull(raw) {
		return UploadPart{}, fmt.Errorf("field %s: want an object, got null", elem)
	}
	pf, err := decodeObject(elem, raw)
	if err != nil {
		return UploadPart{}, err
	}
	p := UploadPart{Number: index}
	n, ok, err := pf.int("part_number", "number")
	switch {
	case err != nil:
		return UploadPart{}, fmt.Errorf("%s: %w", elem, err)
	case ok && (n < 1 || n > maxParts):
		return UploadPart{}, fmt.Errorf("%s: part_number %d is outside 1..%d", elem, n, maxParts)
	case ok:
		p.Number = int(n)
	}
	if p.URL, err = pf.presignedURL("url", "upload_url"); err != nil {
		return UploadPart{}, fmt.Errorf("%s: %w", elem, err)
	}
	if p.Size, _, err = pf.int("size", "content_length"); err != nil {
		return UploadPart{}, fmt.Errorf("%s: %w", elem, err)
	}
	return p, nil
}

// decodeImport reads an import's state.
func decodeImport(f fields) (Import, error) {
	var im Import
	var err error
	if im.ID, err = f.id("import_id", "id"); err != nil {
		return Import{}, err
	}
	if im.Status, err = f.status(); err != nil {
		return Import{}, err
	}
	if im.ErrorMessage, err = f.failure(im.Status); err != nil {
		return Import{}, err
	}
	if im.StartedAt, err = f.time("started_at"); err != nil {
		return Import{}, err
	}
	if im.CompletedAt, err = f.time("completed_at"); err != nil {
		return Import{}, err
	}
	return im, nil
}

// decodeAPIError reads an error answer's message and 422 field errors. A
// body that is not JSON (a proxy's HTML page) gives a short plain-text
// excerpt, or nothing for markup.
func decodeAPIError(body []byte) (msg string, fieldErrs map[string][]string) {
	var top fields
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return plainExcerpt(body), nil
	}
	msg, _ = top.str("message")
	if msg == "" {
		msg, _ = top.str("error")
	}
	if raw, ok := top["errors"]; ok {
		var byField map[string]json.RawMessage
		if json.Unmarshal(raw, &byField) == nil {
			for k, v := range byField {
				var list []string
				if json.Unmarshal(v, &list) != nil {
					var one string
					if json.Unmarshal(v, &one) != nil {
						continue
					}
					list = []string{one}
				}
				for i := range list {
					list[i] = excerpt(list[i], 200)
				}
				if fieldErrs == nil {
					fieldErrs = make(map[string][]string)
				}
				fieldErrs[excerpt(k, 60)] = list
			}
		}
	}
	return excerpt(msg, 200), fieldErrs
}

// plainExcerpt returns a short, printable excerpt of a non-JSON body, or ""
// for an empty body or markup (HTML, XML), whose status text says more.
func plainExcerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || strings.HasPrefix(s, "<") {
		return ""
	}
	return excerpt(s, 120)
}

// excerpt makes s safe for an error message: valid UTF-8, no control
// characters, whitespace collapsed, at most max runes.
func excerpt(s string, max int) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range strings.ToValidUTF8(s, "?") {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if n >= max {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// kindOf names the JSON type of raw without quoting it (it may be a secret).
func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if r, _ := utf8.DecodeRune(raw); r == '-' || unicode.IsDigit(r) {
		return "a number"
	}
	return "invalid JSON"
}

func isNull(raw []byte) bool { return bytes.Equal(raw, []byte("null")) }

// jsonProblem shortens a JSON syntax error without quoting the input.
func jsonProblem(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("want a JSON object, got a JSON %s", te.Value)
	}
	return errors.New("invalid JSON")
}
