package vectorapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// probeID is the made-up id Probe asks for: a well-formed ULID (the API's
// ids are ULIDs, so a route that checks the id's form still matches it)
// that no site or export has.
const probeID = "00000000000000000000000000"

// ProbeResult is what Probe learnt.
type ProbeResult struct {
	// TokenOK: the API accepted the token.
	TokenOK bool
	// TokenError says why not, e.g. "HTTP 401: Unauthenticated"; "" when
	// TokenOK.
	TokenError string
	// RouteSets maps RoutesDocumented and RoutesOpenAPI to whether the API
	// answers that set's routes. A set whose probe the API refused (401,
	// 403) cannot be told and is left out.
	RouteSets map[string]bool
	// RateLimitHeaders are the rate-limit headers of the API's answers
	// (X-RateLimit-*, RateLimit-*, Retry-After), the last value seen of
	// each, by their usual spelling.
	RateLimitHeaders map[string]string
}

// Probe reports, without spending a database operation, whether the token
// is accepted and which route set the account answers (CONTRACT §2, `api
// probe`), plus the rate-limit headers the API sends.
//
// For each route set it GETs a made-up export of a made-up site on that
// set's export-status route (GET /sites/{site}/database/export/{id}, GET
// /sites/{site}/db/exports/{id}). An error answer in the API's envelope (a
// JSON object with "data" or "http_status", such as "Site not found")
// means the route exists and the token passed; a bare 404 (HTML, empty, a
// framework's "Not Found", even enveloped, or its "The route … could not be
// found.") or a 405 means the set has no such route; a 401 or 403 means
// the token was refused, and that set is left out of RouteSets. When
// neither probe tells whether the token is accepted (both bare 404s), it
// also GETs /sites?per_page=1. Each request is observed as "probe" and
// retried like any status query. It returns an error only when an answer
// cannot be had (network errors, 5xx after the retries, a 429 longer than
// the client waits), with what it had learnt so far.
func (c *Client) Probe(ctx context.Context) (ProbeResult, error) {
	res := ProbeResult{RouteSets: map[string]bool{}, RateLimitHeaders: map[string]string{}}
	tokenKnown := false
	refuse := func(err error) {
		var e *Error
		if errors.As(err, &e) {
			res.TokenError = fmt.Sprintf("HTTP %d", e.StatusCode)
			if e.Message != "" {
				res.TokenError += ": " + e.Message
			}
		} else {
			res.TokenError = err.Error()
		}
		res.TokenOK, tokenKnown = false, true
	}
	for _, set := range []string{RoutesDocumented, RoutesOpenAPI} {
		routes, _ := routeTable(set)
		method, path, err := expandRoute(set, opExportStatus, routes[opExportStatus], Target{SiteID: probeID}, probeID)
		if err != nil {
			return res, fmt.Errorf("probe the %s routes: %w", set, err)
		}
		var status int
		var body []byte
		_, err = c.callAPI(ctx, apiRequest{op: opProbe, method: method, path: path, safe: true,
			seen: func(code int, h http.Header, b []byte) {
				status, body = code, b
				res.collectRateLimitHeaders(h)
			}})
		switch {
		case err == nil:
			res.RouteSets[set] = true
			if !tokenKnown {
				res.TokenOK, tokenKnown = true, true
			}
		case errors.Is(err, ErrUnauthorized):
			refuse(err)
		case status == http.StatusNotFound || (status >= 400 && status < 500 && status != http.StatusTooManyRequests):
			exists := status != http.StatusMethodNotAllowed && isEnvelope(body)
			res.RouteSets[set] = exists
			if exists && !tokenKnown {
				res.TokenOK, tokenKnown = true, true
			}
		default:
			return res, fmt.Errorf("probe the %s routes: %w", set, err)
		}
	}
	if tokenKnown {
		return res, nil
	}
	// Neither set answered with the API's envelope: ask a route both sets
	// share whether the token is accepted.
	method, path, err := c.accountPath(opSites, "", "", url.Values{"per_page": {"1"}})
	if err != nil {
		return res, fmt.Errorf("probe the token: %w", err)
	}
	_, err = c.callAPI(ctx, apiRequest{op: opProbe, method: method, path: path, safe: true,
		seen: func(_ int, h http.Header, _ []byte) { res.collectRateLimitHeaders(h) }})
	switch {
	case err == nil:
		res.TokenOK = true
	case errors.Is(err, ErrUnauthorized):
		refuse(err)
	default:
		return res, fmt.Errorf("probe the token: %w", err)
	}
	return res, nil
}

// isEnvelope reports whether an error answer is the API's own: a JSON
// object with "data" or "http_status" whose message is neither a
// framework's "The route … could not be found." nor a bare "Not Found"
// (the API names what it did not find: "Site not found").
func isEnvelope(body []byte) bool {
	var top fields
	if json.Unmarshal(bytes.TrimSpace(body), &top) != nil || top == nil {
		return false
	}
	_, data := top["data"]
	_, status := top["http_status"]
	if !data && !status {
		return false
	}
	msg, _ := top.str("message")
	msg = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(msg)), ".")
	if msg == "not found" || strings.Contains(msg, "route") && strings.Contains(msg, "could not be found") {
		return false
	}
	return true
}

// rateLimitNames are the usual spellings of the common rate-limit headers.
var rateLimitNames = map[string]string{
	"x-ratelimit-limit":     "X-RateLimit-Limit",
	"x-ratelimit-remaining": "X-RateLimit-Remaining",
	"x-ratelimit-reset":     "X-RateLimit-Reset",
	"retry-after":           "Retry-After",
	"ratelimit":             "RateLimit",
	"ratelimit-policy":      "RateLimit-Policy",
	"ratelimit-limit":       "RateLimit-Limit",
	"ratelimit-remaining":   "RateLimit-Remaining",
	"ratelimit-reset":       "RateLimit-Reset",
}

func (r *ProbeResult) collectRateLimitHeaders(h http.Header) {
	for k, v := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "x-ratelimit") && !strings.HasPrefix(lk, "ratelimit") && lk != "retry-after" {
			continue
		}
		name, ok := rateLimitNames[lk]
		if !ok {
			name = http.CanonicalHeaderKey(k)
		}
		r.RateLimitHeaders[name] = excerpt(strings.Join(v, ", "), 200)
	}
}
