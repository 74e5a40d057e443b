package vectorapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// listPageSize is the per_page the client asks of a paginated list: the
// largest the API allows.
const listPageSize = 100

// maxListPages bounds the pages one listing reads (100 000 items).
const maxListPages = 1000

// pageInfo is what a list page says about the pages after it. Each part
// is optional: the API's published examples give "links": {} and
// "meta": {}.
type pageInfo struct {
	lastPage    int64 // meta.last_page (or total_pages); 0: not said
	total       int64 // meta.total; -1: not said
	perPage     int64 // meta.per_page; 0: not said
	next        bool  // links.next (or next_page_url) names a page
	nextKnown   bool  // the answer said whether there is a next page
	currentPage int64 // meta.current_page; 0: not said
}

// decodeList decodes one page of a paginated list: {"data": [...],
// "links": {...}, "meta": {...}}, also a bare array, a Laravel paginator
// without resource wrapping ({"data": [...], "current_page": …,
// "last_page": …, "next_page_url": …}), and a data object holding such a
// paginator. A data of null or {} is an empty page.
func decodeList(body []byte) ([]fields, pageInfo, error) {
	info := pageInfo{total: -1}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, info, errors.New("decode answer: the answer is empty")
	}
	if body[0] == '[' {
		items, err := decodeItems("data", body)
		return items, info, err
	}
	var top fields
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, info, fmt.Errorf("decode answer: %w", jsonProblem(err))
	}
	if top == nil {
		return nil, info, errors.New("decode answer: the answer is null")
	}
	raw, ok := top["data"]
	if !ok {
		return nil, info, errors.New("decode answer: the answer has no data list")
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		inner, err := decodeObject("data", raw)
		if err != nil {
			return nil, info, fmt.Errorf("decode answer: %w", err)
		}
		innerData, ok := inner["data"]
		if !ok {
			if len(inner) == 0 {
				return nil, info, nil // {} for an empty list
			}
			return nil, info, errors.New("decode answer: field data: want an array, got an object")
		}
		readPageInfo(&info, inner)
		top, raw = inner, bytes.TrimSpace(innerData)
	}
	items, err := decodeItems("data", raw)
	if err != nil {
		return nil, info, fmt.Errorf("decode answer: %w", err)
	}
	readPageInfo(&info, top)
	if meta, err := decodeObject("meta", top["meta"]); err == nil && top["meta"] != nil {
		readPageInfo(&info, meta)
		if p, err := decodeObject("pagination", meta["pagination"]); err == nil && meta["pagination"] != nil {
			readPageInfo(&info, p)
			if l, err := decodeObject("links", p["links"]); err == nil && p["links"] != nil {
				readNext(&info, l, "next")
			}
		}
	}
	if links, err := decodeObject("links", top["links"]); err == nil && top["links"] != nil {
		readNext(&info, links, "next")
	}
	return items, info, nil
}

// decodeItems decodes raw as an array of objects; null gives none.
func decodeItems(name string, raw json.RawMessage) ([]fields, error) {
	if isNull(bytes.TrimSpace(raw)) {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("field %s: want an array, got %s", name, kindOf(raw))
	}
	items := make([]fields, 0, len(list))
	for i, item := range list {
		elem := fmt.Sprintf("%s[%d]", name, i)
		if isNull(bytes.TrimSpace(item)) {
			return nil, fmt.Errorf("field %s: want an object, got null", elem)
		}
		f, err := decodeObject(elem, item)
		if err != nil {
			return nil, err
		}
		items = append(items, f)
	}
	return items, nil
}

// readPageInfo reads the paginator fields of f where present and readable;
// a field that cannot be read is ignored (the page size then decides).
func readPageInfo(info *pageInfo, f fields) {
	if n, ok, err := f.int("last_page", "total_pages"); err == nil && ok && n > 0 {
		info.lastPage = n
	}
	if n, ok, err := f.int("total"); err == nil && ok {
		info.total = n
	}
	if n, ok, err := f.int("per_page"); err == nil && ok && n > 0 {
		info.perPage = n
	}
	if n, ok, err := f.int("current_page"); err == nil && ok && n > 0 {
		info.currentPage = n
	}
	readNext(info, f, "next_page_url")
}

// readNext reads a next-page link: a non-empty string means there is one,
// null or "" that there is none; absent says nothing.
func readNext(info *pageInfo, f fields, name string) {
	if _, present := f[name]; !present {
		return
	}
	s, err := f.str(name)
	if err != nil {
		return
	}
	info.next, info.nextKnown = s != "", true
}

// listPages reads every page of a paginated list route, asking for
// listPageSize items a page, and calls each with every item in order.
// It follows, in this order, what the answer says: meta.last_page,
// links.next (or next_page_url), meta.total; when it says nothing, a page
// shorter than asked is the last. A page that brings no item not seen
// before ends a listing whose answers say nothing of pagination (an API
// that ignores page), and is an error when they do. Items are told apart
// by their id field.
func (c *Client) listPages(ctx context.Context, op operation, query url.Values, each func(item fields) error) error {
	name := op.describe()
	seen := map[string]bool{}
	count := int64(0)
	for page := 1; ; page++ {
		if page > maxListPages {
			return fmt.Errorf("%s: more than %d pages", name, maxListPages)
		}
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("per_page", strconv.Itoa(listPageSize))
		q.Set("page", strconv.Itoa(page))
		method, path, err := c.accountPath(op, "", "", q)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if method != http.MethodGet {
			return fmt.Errorf("%s: the route is not a GET", name)
		}
		body, err := c.callAPI(ctx, apiRequest{op: op, method: method, path: path, safe: true})
		if err != nil {
			return err
		}
		items, info, err := decodeList(body)
		if err != nil {
			return fmt.Errorf("%s, page %d: %w", name, page, err)
		}
		fresh := 0
		for i, item := range items {
			id, _ := item.id("id")
			if id != "" && seen[id] {
				continue // shifted onto this page by an item added meanwhile
			}
			if id != "" {
				seen[id] = true
			}
			fresh++
			if err := each(item); err != nil {
				return fmt.Errorf("%s, page %d, item %d: %w", name, page, i+1, err)
			}
		}
		count += int64(fresh)
		if len(items) == 0 {
			return nil
		}
		said := info.lastPage > 0 || info.nextKnown || info.total >= 0
		if fresh == 0 {
			if said {
				return fmt.Errorf("%s: page %d repeats items of earlier pages: the API seems to ignore the page parameter", name, page)
			}
			return nil
		}
		var more bool
		switch {
		case info.lastPage > 0:
			current := int64(page)
			if info.currentPage > 0 {
				current = info.currentPage
			}
			more = current < info.lastPage
		case info.nextKnown:
			more = info.next
		case info.total >= 0:
			more = count < info.total
		default:
			size := int64(listPageSize)
			if info.perPage > 0 {
				size = info.perPage
			}
			more = int64(len(items)) >= size
		}
		if !more {
			return nil
		}
	}
}
