package vectorapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// MaxImportBytes is the largest dump an import session takes: the OpenAPI
// description's default maximum of 50 GB (higher limits can be configured
// per cluster on request, so the client itself does not enforce it).
const MaxImportBytes = 50 << 30

// DefaultPartSize is the size of a multipart session's parts when the
// session does not say: the OpenAPI description's "Parts are 100MB each".
const DefaultPartSize = 100 << 20

const (
	// maxParts is S3's limit on the parts of one multipart upload.
	maxParts = 10_000
	// maxPartBytes is S3's limit on the size of one part.
	maxPartBytes = 5 << 30
)

// partSpan is one part of the dump as UploadParts sends it.
type partSpan struct {
	number         int
	url            string
	offset, length int64
}

// layout splits a dump of size bytes into the session's parts and pairs
// each with its URL. Part sizes are taken, in this order, from the parts'
// own sizes (when every part has one and they add up to size), from
// PartSize, from DefaultPartSize when that gives PartCount parts, or else
// by splitting size evenly (rounded up); the split must give exactly
// PartCount parts. Errors never quote a URL.
func (s ImportSession) layout(size int64) ([]partSpan, error) {
	if !s.Multipart {
		return nil, errors.New("the session asks for a single upload (use Upload)")
	}
	if s.ContentLength > 0 && s.ContentLength != size {
		return nil, fmt.Errorf("the session was created for %d bytes, the dump has %d", s.ContentLength, size)
	}
	count := s.PartCount
	if count == 0 {
		count = len(s.Parts)
	}
	switch {
	case count < 1:
		return nil, errors.New("the session lists no parts")
	case count > maxParts:
		return nil, fmt.Errorf("the session asks for %d parts, more than storage allows (%d)", count, maxParts)
	}
	byNumber := make(map[int]UploadPart, len(s.Parts))
	for _, p := range s.Parts {
		switch _, dup := byNumber[p.Number]; {
		case p.Number < 1 || p.Number > count:
			return nil, fmt.Errorf("the session lists a URL for part %d of %d parts", p.Number, count)
		case dup:
			return nil, fmt.Errorf("the session lists two URLs for part %d", p.Number)
		}
		if err := checkPresigned(p.URL); err != nil {
			return nil, fmt.Errorf("the URL of part %d: %w", p.Number, err)
		}
		byNumber[p.Number] = p
	}
	if len(byNumber) < count {
		var missing []string
		for n := 1; n <= count && len(missing) < 5; n++ {
			if _, ok := byNumber[n]; !ok {
				missing = append(missing, fmt.Sprint(n))
			}
		}
		more := ""
		if count-len(byNumber) > len(missing) {
			more = ", …"
		}
		return nil, fmt.Errorf("the session lists upload URLs for %d of its %d parts (none for part %s%s)",
			len(byNumber), count, strings.Join(missing, ", "), more)
	}

	spans := make([]partSpan, count)
	var given int64
	allGiven := true
	for n := 1; n <= count; n++ {
		p := byNumber[n]
		spans[n-1] = partSpan{number: n, url: p.URL, length: p.Size}
		given += p.Size
		allGiven = allGiven && p.Size > 0
	}
	switch {
	case allGiven && given != size:
		return nil, fmt.Errorf("the session's parts hold %d bytes, the dump has %d", given, size)
	case !allGiven:
		partSize := s.PartSize
		switch {
		case partSize > 0:
		case partsOf(size, DefaultPartSize) == int64(count):
			partSize = DefaultPartSize
		default:
			partSize = (size + int64(count) - 1) / int64(count)
		}
		if partsOf(size, partSize) != int64(count) {
			return nil, fmt.Errorf("%d bytes do not split into %d parts of %d bytes", size, count, partSize)
		}
		for i := range spans {
			spans[i].length = min(partSize, size-int64(i)*partSize)
		}
	}
	var offset int64
	for i := range spans {
		if spans[i].length > maxPartBytes {
			return nil, fmt.Errorf("part %d would hold %d bytes, more than storage takes in one part (%d)", spans[i].number, spans[i].length, int64(maxPartBytes))
		}
		spans[i].offset = offset
		offset += spans[i].length
	}
	return spans, nil
}

// partsOf is how many parts of partSize bytes hold size bytes.
func partsOf(size, partSize int64) int64 {
	if partSize <= 0 {
		return 0
	}
	return (size + partSize - 1) / partSize
}

// UploadParts uploads size bytes of body through multipart session s and
// returns the parts to pass to RunImport, in part order. Each part is a
// plain PUT of its share of the dump to its presigned URL (Content-Length
// set, no Authorization header, streamed without buffering, not counted
// against the API budget), one part after the other.
//
// The API does not say how big each part must be, only how many there are
// ("Parts are 100MB each"): the parts' own sizes are used when the session
// gives them all, else s.PartSize, else DefaultPartSize when that makes
// PartCount parts, else the dump split evenly (rounded up) into PartCount
// parts. Storage accepts any split into that many parts whose parts but the
// last hold at least 5 MiB.
//
// When body is an io.Seeker, UploadParts seeks it to each part's start
// before sending the part (the first time too, so that a wrapper can mark
// where parts begin), and a part that fails with a 5xx, 429 or network
// error is sent again from its start, up to Options.MaxRetries times; a
// body that cannot seek is read straight through and a failed part that
// had read any of it is not retried. A part answered without an ETag
// fails. A 403 gives an error matching ErrURLExpired (the parts already
// sent are lost with the session: create a new one). A body shorter than
// size fails without retry. Errors name the part and its URL as RedactURL
// does. Nothing is sent when the session's parts do not fit the dump
// (missing URLs, a different content_length).
func (c *Client) UploadParts(ctx context.Context, s ImportSession, body io.Reader, size int64) ([]CompletedPart, error) {
	name := "upload import " + s.ID
	if size < 0 {
		return nil, fmt.Errorf("%s: negative size %d", name, size)
	}
	spans, err := s.layout(size)
	if err != nil {
		return nil, fmt.Errorf("%s in parts: %w", name, err)
	}
	var seeker io.Seeker
	var base int64
	if sk, ok := body.(io.Seeker); ok {
		if pos, err := sk.Seek(0, io.SeekCurrent); err == nil {
			seeker, base = sk, pos
		}
	}
	parts := make([]CompletedPart, 0, len(spans))
	for _, sp := range spans {
		pname := fmt.Sprintf("upload part %d of %d of import %s to %s", sp.number, len(spans), s.ID, RedactURL(sp.url))
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", pname, err)
		}
		src := &source{r: body, size: sp.length}
		if seeker != nil {
			src.seeker, src.start = seeker, base+sp.offset
			if _, err := seeker.Seek(src.start, io.SeekStart); err != nil {
				return nil, fmt.Errorf("%s: seek to byte %d of the dump: %w", pname, sp.offset, err)
			}
		}
		var etag string
		err := c.retry(ctx, opImportUpload, false, src.rewind, func(ctx context.Context) verdict {
			return c.uploadAttempt(ctx, sp.url, src, pname, &etag)
		})
		if err != nil {
			return nil, err
		}
		parts = append(parts, CompletedPart{PartNumber: sp.number, ETag: etag})
	}
	return parts, nil
}

// completionBody is Run Import's body for a multipart upload:
// {"parts":[{"part_number":N,"etag":"…"},…]} in part-number order.
func completionBody(parts []CompletedPart) ([]byte, error) {
	sorted := slices.SortedFunc(slices.Values(parts), func(a, b CompletedPart) int {
		return cmp.Compare(a.PartNumber, b.PartNumber)
	})
	for i, p := range sorted {
		switch {
		case p.PartNumber < 1:
			return nil, fmt.Errorf("part number %d: want 1 or more", p.PartNumber)
		case i > 0 && sorted[i-1].PartNumber == p.PartNumber:
			return nil, fmt.Errorf("part %d is listed twice", p.PartNumber)
		case strings.TrimSpace(p.ETag) == "":
			return nil, fmt.Errorf("part %d has no ETag", p.PartNumber)
		}
	}
	return json.Marshal(struct {
		Parts []CompletedPart `json:"parts"`
	}{sorted})
}
