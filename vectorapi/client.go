package vectorapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"golang.org/x/time/rate"
)

// Route sets (Options.Routes).
const (
	// RoutesDocumented selects the routes of the product documentation.
	RoutesDocumented = "documented"
	// RoutesOpenAPI selects the routes of the API's OpenAPI description:
	// no direct import, no environment routes. Both sets serve the
	// Backups API, sites and environments at the same paths.
	RoutesOpenAPI = "openapi"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultBaseURL           = "https://api.builtfast.com/api/v1/vector"
	DefaultTimeout           = 30 * time.Second
	DefaultRequestsPerMinute = 120
	DefaultMaxRetries        = 4
	DefaultRetryBaseDelay    = time.Second
	DefaultRetryMaxDelay     = 30 * time.Second
	DefaultMaxRateLimitWait  = 5 * time.Minute
)

// DirectImportMaxBytes is the largest dump ImportDirect sends; the API
// takes direct imports under 10 MB.
const DirectImportMaxBytes = 10_000_000

// maxAnswerBytes bounds an API answer read into memory.
const maxAnswerBytes = 1 << 20

// Options configures a Client. Zero fields take the documented defaults.
type Options struct {
	// BaseURL of the API; default DefaultBaseURL.
	BaseURL string
	// Token is the API's bearer token; required. It is sent to the API
	// only, never to presigned URLs, and never appears in errors or logs.
	Token string
	// Routes is RoutesDocumented (default) or RoutesOpenAPI.
	Routes string
	// Timeout bounds each API request (default 30s). For uploads and
	// downloads, whose bodies may take far longer, it bounds the wait for
	// the answer's headers and any stretch without progress instead.
	Timeout time.Duration
	// RequestsPerMinute is the client-side budget for API requests, shared
	// by all calls of the client (default 120). Presigned-URL transfers do
	// not count.
	RequestsPerMinute int
	// UserAgent is sent with every request, e.g. "vectord/1.2.3"; default
	// "vectord".
	UserAgent string
	// HTTPClient, if set, carries the requests; its own Timeout, if any,
	// applies on top of Timeout (leave it 0: it would cut downloads short).
	HTTPClient *http.Client
	// Logger receives a warning per retried request; default: discard.
	Logger *slog.Logger
	// Observe, if set, is called once per HTTP attempt with the operation
	// ("export", "export_status", "import_create", "import_upload",
	// "import_run", "import_status", "import_direct", "download",
	// "backup_create", "backup_status", "backup_list",
	// "backup_download_create", "backup_download_status", "sites",
	// "environments", "probe") and the status code ("200", "429", ...) or
	// "error" for a network failure.
	Observe func(op string, code string)
	// MaxRetries is how many times a failed request is retried (5xx,
	// network errors, 429); default 4; negative disables retries.
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay shape the capped exponential backoff
	// with full jitter: retry n waits a random time in [0, min(max,
	// base·2ⁿ)]. Defaults 1s and 30s. A 429 waits at least the base delay.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// MaxRateLimitWait is the longest wait the client sits out by itself
	// after a 429 (default 5m); when the API asks for more, the call
	// returns an *Error matching ErrRateLimited with RetryAfter set, so the
	// caller can reschedule.
	MaxRateLimitWait time.Duration

	// BeforeRetry, if set, is called before a database-operation request
	// (export, import, backup creation) is sent again after a failed
	// attempt, with its operation name ("export", "import_create",
	// "import_direct", "backup_create"): each attempt
	// spends the account's budget, so the caller writes it to its ledger
	// first (CONTRACT §6). An error from it ends the retries.
	BeforeRetry func(ctx context.Context, op string) error
	// RateLimit, if set, is called when the answer to a
	// database-operation request carries X-RateLimit-Remaining: the
	// operations the API still allows, until reset (zero if not said).
	RateLimit func(remaining int, reset time.Time)
}

// Client talks to the Vector Pro API and to the presigned URLs it hands
// out. It is safe for concurrent use; all its calls share one
// requests-per-minute limiter.
type Client struct {
	base             string
	token            string
	routeSet         string
	routes           map[operation]route
	timeout          time.Duration
	limiter          *rate.Limiter
	userAgent        string
	hc               *http.Client
	log              *slog.Logger
	observeFn        func(op, code string)
	maxRetries       int
	baseDelay        time.Duration
	maxDelay         time.Duration
	maxRateLimitWait time.Duration
	beforeRetry      func(ctx context.Context, op string) error
	rateLimitFn      func(remaining int, reset time.Time)
}

// New validates o, applies defaults and returns a Client. It sends nothing.
// The error names the offending option.
func New(o Options) (*Client, error) {
	c := &Client{
		token:            o.Token,
		routeSet:         o.Routes,
		timeout:          o.Timeout,
		userAgent:        o.UserAgent,
		hc:               o.HTTPClient,
		log:              o.Logger,
		observeFn:        o.Observe,
		maxRetries:       o.MaxRetries,
		baseDelay:        o.RetryBaseDelay,
		maxDelay:         o.RetryMaxDelay,
		maxRateLimitWait: o.MaxRateLimitWait,
		beforeRetry:      o.BeforeRetry,
		rateLimitFn:      o.RateLimit,
	}
	base := o.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		shown, _, _ := strings.Cut(base, "?") // a query might hold a secret
		if u != nil && u.User != nil {
			shown = RedactURL(base)
		}
		return nil, fmt.Errorf("base URL %q: want http(s)://host[/path] without query or credentials", shown)
	}
	c.base = strings.TrimRight(base, "/")

	if o.Token == "" {
		return nil, errors.New("token is empty")
	}
	if strings.IndexFunc(o.Token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, errors.New("token contains whitespace or control characters")
	}
	if c.routeSet == "" {
		c.routeSet = RoutesDocumented
	}
	var ok bool
	if c.routes, ok = routeTable(c.routeSet); !ok {
		return nil, fmt.Errorf("routes %q: want %q or %q", o.Routes, RoutesDocumented, RoutesOpenAPI)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"timeout", &c.timeout, DefaultTimeout},
		{"retry base delay", &c.baseDelay, DefaultRetryBaseDelay},
		{"retry max delay", &c.maxDelay, DefaultRetryMaxDelay},
		{"max rate-limit wait", &c.maxRateLimitWait, DefaultMaxRateLimitWait},
	} {
		switch {
		case *d.v < 0:
			return nil, fmt.Errorf("%s %s is negative", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if c.maxDelay < c.baseDelay {
		c.maxDelay = c.baseDelay
	}
	rpm := o.RequestsPerMinute
	switch {
	case rpm < 0:
		return nil, fmt.Errorf("requests per minute %d is negative", rpm)
	case rpm == 0:
		rpm = DefaultRequestsPerMinute
	}
	// A burst of one second's worth keeps any minute at or just over the
	// budget while letting a call and its follow-up go out together.
	// A burst of b and a refill of (rpm-b)/60 a second never send more
	// than rpm requests in any minute, the API's own window.
	burst := max(1, rpm/60)
	refill := max(float64(rpm-burst), 1) / 60
	c.limiter = rate.NewLimiter(rate.Limit(refill), burst)
	switch {
	case c.maxRetries < 0:
		c.maxRetries = 0
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	}
	if c.userAgent == "" {
		c.userAgent = "vectord"
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// SupportsDirectImport reports whether ImportDirect is available for a
// site's development database (false for RoutesOpenAPI). Environments
// always import through a session.
func (c *Client) SupportsDirectImport() bool {
	return c.routes[opImportDirect].dev != ""
}

// SupportsEnvironments reports whether targets with an EnvironmentID can be
// exported and imported (false for RoutesOpenAPI).
func (c *Client) SupportsEnvironments() bool {
	return c.routes[opExport].env != ""
}

func (c *Client) observe(op operation, code string) {
	if c.observeFn != nil {
		c.observeFn(string(op), code)
	}
}
