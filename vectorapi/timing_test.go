package vectorapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// script is an in-memory server for tests under synctest: it answers
// requests from a list (the last answer repeats) and notes when each came.
type script struct {
	mu      sync.Mutex
	answers []fault
	times   []time.Time
	paths   []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	s.paths = append(s.paths, r.URL.Path)
	a := s.answers[0]
	if len(s.answers) > 1 {
		s.answers = s.answers[1:]
	}
	s.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	w.Write([]byte(a.body))
}

// gaps returns the time between consecutive requests.
func (s *script) gaps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(s.times); i++ {
		out = append(out, s.times[i].Sub(s.times[i-1]))
	}
	return out
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.times)
}

const okStatus = `{"data":{"export_id":"e1","status":"processing"}}`

func scriptedClient(t *testing.T, s *script, adjust func(*Options)) *Client {
	t.Helper()
	o := Options{
		BaseURL:           "https://api.example.test/api/v1/vector",
		Token:             testToken,
		HTTPClient:        &http.Client{Transport: handlerTransport{s}},
		RequestsPerMinute: 6000,
	}
	if adjust != nil {
		adjust(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRateLimitedWaitsAsTold: a 429 to a request that spends no database
// operation (a status query) waits what the API says, in every form it can
// say it.
func TestRateLimitedWaitsAsTold(t *testing.T) {
	tests := []struct {
		name   string
		header func(now time.Time) map[string]string
		want   time.Duration
	}{
		{"Retry-After seconds", func(time.Time) map[string]string { return map[string]string{"Retry-After": "7"} }, 7 * time.Second},
		{"Retry-After date", func(now time.Time) map[string]string {
			return map[string]string{"Retry-After": now.Add(30 * time.Second).UTC().Format(http.TimeFormat)}
		}, 30 * time.Second},
		{"X-RateLimit-Reset epoch", func(now time.Time) map[string]string {
			return map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(now.Add(12*time.Second).Unix(), 10)}
		}, 12 * time.Second},
		{"Retry-After wins over X-RateLimit-Reset", func(now time.Time) map[string]string {
			return map[string]string{"Retry-After": "3", "X-RateLimit-Reset": strconv.FormatInt(now.Add(50*time.Second).Unix(), 10)}
		}, 3 * time.Second},
		{"Retry-After 0 still waits the base delay", func(time.Time) map[string]string { return map[string]string{"Retry-After": "0"} }, time.Second},
		{"nothing said: backoff of at least the base delay", func(time.Time) map[string]string { return nil }, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &script{answers: []fault{
					{status: 429, header: tc.header(time.Now()), body: `{"message":"Too Many Attempts."}`},
					{status: 200, body: okStatus},
				}}
				c := scriptedClient(t, s, nil)
				if _, err := c.ExportStatus(t.Context(), site, "e1"); err != nil {
					t.Fatal(err)
				}
				gaps := s.gaps()
				if len(gaps) != 1 || gaps[0] != tc.want {
					t.Errorf("waited %v between requests, want [%v]", gaps, tc.want)
				}
			})
		})
	}
}

func TestRateLimitedBeyondWhatTheClientWaits(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		ctxTimeout time.Duration
		want       time.Duration
	}{
		{"longer than MaxRateLimitWait", "3600", 0, time.Hour},
		{"past the caller's deadline", "60", 10 * time.Second, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &script{answers: []fault{{status: 429, header: map[string]string{"Retry-After": tc.retryAfter}}}}
				c := scriptedClient(t, s, nil)
				ctx := t.Context()
				if tc.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
					defer cancel()
				}
				start := time.Now()
				_, err := c.StartExport(ctx, site)
				if !errors.Is(err, ErrRateLimited) {
					t.Fatalf("error = %v, want ErrRateLimited", err)
				}
				var apiErr *Error
				if !errors.As(err, &apiErr) || apiErr.RetryAfter != tc.want {
					t.Errorf("error %v: RetryAfter = %v, want %v", err, apiErr.RetryAfter, tc.want)
				}
				if el := time.Since(start); el != 0 {
					t.Errorf("returned after %v, want at once", el)
				}
				if n := s.count(); n != 1 {
					t.Errorf("requests = %d, want 1", n)
				}
			})
		})
	}
}

// TestBackoffIsCappedWithFullJitter: waits grow no faster than base·2ⁿ,
// never pass the cap, and the retries stop at MaxRetries.
func TestBackoffIsCappedWithFullJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{answers: []fault{{status: 503}}}
		c := scriptedClient(t, s, func(o *Options) {
			o.MaxRetries = 8
			o.RetryBaseDelay = time.Second
			o.RetryMaxDelay = 5 * time.Second
		})
		_, err := c.ExportStatus(t.Context(), site, "e1")
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
			t.Fatalf("error = %v, want the last 503", err)
		}
		gaps := s.gaps()
		if len(gaps) != 8 {
			t.Fatalf("retries = %d, want 8", len(gaps))
		}
		for i, g := range gaps {
			ceiling := min(5*time.Second, time.Second<<i)
			if g < 0 || g > ceiling {
				t.Errorf("wait before retry %d = %v, want within [0, %v]", i+1, g, ceiling)
			}
		}
	})
}

func TestNoRetriesWhenDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{answers: []fault{{status: 503}}}
		c := scriptedClient(t, s, func(o *Options) { o.MaxRetries = -1 })
		if _, err := c.ExportStatus(t.Context(), site, "e1"); err == nil {
			t.Fatal("want an error")
		}
		if n := s.count(); n != 1 {
			t.Errorf("requests = %d, want 1", n)
		}
	})
}

func TestRetryWaitEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{answers: []fault{{status: 429, header: map[string]string{"Retry-After": "120"}}}}
		c := scriptedClient(t, s, nil)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(5*time.Second, cancel)
		start := time.Now()
		_, err := c.ExportStatus(ctx, site, "e1")
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRateLimited) {
			t.Errorf("error = %v, want context.Canceled and ErrRateLimited", err)
		}
		if el := time.Since(start); el != 5*time.Second {
			t.Errorf("returned after %v, want 5s (when canceled)", el)
		}
	})
}

// TestRequestsPerMinute: one limiter for all of a client's API calls;
// presigned-URL transfers do not count.
//
// TestRequestsPerMinuteWindow below checks the budget over a full minute.
func TestRequestsPerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{answers: []fault{{status: 200, body: okStatus}}}
		c := scriptedClient(t, s, func(o *Options) { o.RequestsPerMinute = 60 })
		start := time.Now()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if _, err := c.ExportStatus(t.Context(), site, "e1"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if _, err := c.StartExport(t.Context(), site); err != nil {
			t.Fatal(err)
		}
		// A burst of 1, then one every 60/59 s: never more than 60 in any
		// minute, the API's own window.
		if el, want := time.Since(start), 3*time.Minute/59; el.Round(time.Millisecond) != want.Round(time.Millisecond) {
			t.Errorf("4 requests at 60/min took %v, want %v", el, want)
		}
		// Downloads go to S3: they do not wait for the API budget.
		before := time.Now()
		for range 3 {
			d, err := c.Download(t.Context(), "https://bucket.example.test/e1.sql?X-Amz-Signature="+testSig, 0)
			if err != nil {
				t.Fatal(err)
			}
			d.Body.Close()
		}
		if el := time.Since(before); el != 0 {
			t.Errorf("downloads waited %v for the API budget, want 0", el)
		}
	})
}

func TestAPITimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := make(chan struct{})
		defer close(block)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-block:
			}
		})
		c, err := New(Options{
			BaseURL: "https://api.example.test", Token: testToken, Timeout: 10 * time.Second, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: handlerTransport{h}},
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = c.ExportStatus(t.Context(), site, "e1")
		if el := time.Since(start); el != 10*time.Second {
			t.Errorf("gave up after %v, want 10s", el)
		}
		if err == nil || err.Error() != "export status: no answer within 10s" {
			t.Errorf("error = %v, want %q", err, "export status: no answer within 10s")
		}
	})
}

// TestSlowConsumerIsNoStall: the download timeout measures the server, not
// how long the caller takes between reads.
func TestSlowConsumerIsNoStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{answers: []fault{{status: 200, body: "CREATE TABLE t (id int);\n"}}}
		c := scriptedClient(t, s, func(o *Options) { o.Timeout = time.Second })
		d, err := c.Download(t.Context(), "https://bucket.example.test/e1.sql?X-Amz-Signature="+testSig, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Body.Close()
		time.Sleep(time.Minute) // the caller opens files, say
		first := make([]byte, 6)
		if _, err := io.ReadFull(d.Body, first); err != nil {
			t.Fatalf("first read after a pause: %v", err)
		}
		time.Sleep(time.Minute) // a slow archive upload downstream
		rest, err := io.ReadAll(d.Body)
		if err != nil {
			t.Fatalf("read after a pause: %v", err)
		}
		if got := string(first) + string(rest); got != "CREATE TABLE t (id int);\n" {
			t.Errorf("body = %q", got)
		}
	})
}

// TestRequestsPerMinuteWindow: under sustained load no 60-second window
// carries more than requests_per_minute requests.
func TestRequestsPerMinuteWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{answers: []fault{{status: 200, body: okStatus}}}
		c := scriptedClient(t, s, func(o *Options) { o.RequestsPerMinute = 120 })
		var sent []time.Time
		start := time.Now()
		for time.Since(start) < 3*time.Minute {
			if _, err := c.ExportStatus(t.Context(), site, "e1"); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, time.Now())
		}
		for i := range sent {
			n := 0
			for _, u := range sent[i:] {
				if u.Sub(sent[i]) < time.Minute {
					n++
				}
			}
			if n > 120 {
				t.Fatalf("%d requests in the minute from %v, want at most 120", n, sent[i].Sub(start))
			}
		}
	})
}

// TestDatabaseOperationRetriesAreAnnounced: each resend of an export
// request after a failed attempt is announced first (the caller writes it
// to the budget ledger), and a refusal of the announcement stops it.
func TestDatabaseOperationRetriesAreAnnounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{answers: []fault{{status: 503}, {status: 500}, {status: 200, body: okStatus}}}
		var announced []string
		c := scriptedClient(t, s, func(o *Options) {
			o.BeforeRetry = func(ctx context.Context, op string) error {
				announced = append(announced, op)
				return nil
			}
		})
		if _, err := c.StartExport(t.Context(), site); err != nil {
			t.Fatal(err)
		}
		if len(announced) != 2 || announced[0] != "export" {
			t.Errorf("announced retries = %v, want two exports", announced)
		}
		// A status query's retries spend nothing and are not announced.
		announced = nil
		s2 := &script{answers: []fault{{status: 503}, {status: 200, body: okStatus}}}
		c2 := scriptedClient(t, s2, func(o *Options) {
			o.BeforeRetry = func(context.Context, string) error { announced = append(announced, "x"); return nil }
		})
		if _, err := c2.ExportStatus(t.Context(), site, "e1"); err != nil || len(announced) != 0 {
			t.Errorf("status query: %v, announced %v; want no announcement", err, announced)
		}
		// A refused announcement: not sent again.
		s3 := &script{answers: []fault{{status: 503}, {status: 200, body: okStatus}}}
		c3 := scriptedClient(t, s3, func(o *Options) {
			o.BeforeRetry = func(context.Context, string) error { return errors.New("ledger full") }
		})
		if _, err := c3.StartExport(t.Context(), site); err == nil || s3.count() != 1 {
			t.Errorf("refused retry: err %v after %d requests, want an error after 1", err, s3.count())
		}
	})
}

// TestRateLimitHeadersAreReported: X-RateLimit-Remaining on a database
// operation's answer reaches Options.RateLimit with its reset time.
func TestRateLimitHeadersAreReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		s := &script{answers: []fault{{status: 200, body: okStatus, header: map[string]string{
			"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": strconv.FormatInt(now.Add(20*time.Minute).Unix(), 10)}}}}
		var gotN int
		var gotReset time.Time
		c := scriptedClient(t, s, func(o *Options) {
			o.RateLimit = func(n int, reset time.Time) { gotN, gotReset = n, reset }
		})
		if _, err := c.StartExport(t.Context(), site); err != nil {
			t.Fatal(err)
		}
		if gotN != 3 || gotReset.Sub(now) < 19*time.Minute || gotReset.Sub(now) > 21*time.Minute {
			t.Errorf("RateLimit(%d, %v), want 3 and about 20 minutes from now", gotN, gotReset)
		}
	})
}
