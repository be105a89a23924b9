package salto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/nexsalto/nexsalto/internal/pause"
)

// maxPages stops a server that keeps sending next links; far above any real site.
const maxPages = 10000

// A page after the first that fails with a 5xx, a 429 or no answer is fetched again in place, up to
// pageRetries times, instead of failing the whole list: a list of k pages would otherwise succeed only when
// all k calls do in one go (at 25% failures, one try in six for 6 pages), and every retry of the caller would
// read all of them again. Reads are safe to repeat; the first page's failure still goes to the caller, which
// loses nothing by retrying it.
const (
	pageRetries    = 5
	pageRetryFirst = 250 * time.Millisecond
	pageRetryCap   = 2 * time.Second
)

// pageRetryDelay is the wait before the try-th repeat of a page: Salto's Retry-After when it gives one,
// otherwise doubling from pageRetryFirst to pageRetryCap, drawn between half and all of it so that lists
// failing together do not come back together. The client's rate limit still spaces the calls.
func pageRetryDelay(try int, err error) time.Duration {
	if d, ok := RetryAfter(err); ok {
		return d
	}
	var e *Error
	if errors.As(err, &e) && e.SaltoUp { // other calls go through: this failure is the page's own
		try = 1
	}
	d := min(pageRetryFirst<<(try-1), pageRetryCap)
	return d/2 + rand.N(d/2+1)
}

// envelope is the paged list shape. next_page_link may be absent, null or empty on the last page.
type envelope[T any] struct {
	Items        []T    `json:"items"`
	NextPageLink string `json:"next_page_link"`
	Count        *int   `json:"count"`
}

// decodePage accepts both list shapes the API uses: a bare JSON array, or the {items, next_page_link, count}
// envelope.
func decodePage[T any](body []byte) ([]T, string, error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0 || bytes.Equal(body, []byte("null")):
		return nil, "", nil
	case body[0] == '[':
		var items []T
		err := json.Unmarshal(body, &items)
		return items, "", err
	case body[0] == '{':
		var env envelope[T]
		err := json.Unmarshal(body, &env)
		return env.Items, env.NextPageLink, err
	}
	return nil, "", errors.New("neither a JSON array nor an object")
}

// listAll fetches a list and follows next_page_link to the end, or until limit items (limit > 0).
func listAll[T any](ctx context.Context, c *Client, first *url.URL, limit int) ([]T, error) {
	all := []T{}
	err := forEachPage(ctx, c, first, func(items []T) error {
		all = append(all, items...)
		if limit > 0 && len(all) >= limit {
			all = all[:limit]
			return errStopPaging
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// errStopPaging ends forEachPage early without an error.
var errStopPaging = errors.New("salto: stop paging")

// forEachPage fetches a list page by page, calling fn with each page's items, and follows next_page_link to the
// end. A next link may be absolute or relative; it is resolved against the page it came from and must stay on
// the API host, so the bearer token never travels elsewhere.
func forEachPage[T any](ctx context.Context, c *Client, first *url.URL, fn func([]T) error) error {
	seen := map[string]bool{}
	cur := first
	for pages := 0; ; pages++ {
		if pages == maxPages {
			return &Error{Kind: KindOther, Method: http.MethodGet, Path: first.Path,
				Message: fmt.Sprintf("more than %d pages", maxPages)}
		}
		seen[cur.String()] = true
		resp, err := c.call(ctx, http.MethodGet, cur, nil)
		for try := 1; err != nil && pages > 0 && try <= pageRetries && IsRetryable(err); try++ {
			if werr := pause.For(ctx, pageRetryDelay(try, err)); werr != nil {
				break
			}
			resp, err = c.call(ctx, http.MethodGet, cur, nil)
		}
		if err != nil {
			return err
		}
		items, link, err := decodePage[T](resp.Body())
		if err != nil {
			return &Error{Kind: KindOther, Status: resp.StatusCode(), Method: http.MethodGet, Path: cur.Path,
				Message: "unexpected list response", err: err}
		}
		if err := fn(items); err != nil {
			if errors.Is(err, errStopPaging) {
				return nil
			}
			return err
		}
		if link == "" {
			return nil
		}
		next, err := cur.Parse(link)
		if err != nil || next.Scheme != c.api.Scheme || next.Host != c.api.Host {
			return &Error{Kind: KindOther, Method: http.MethodGet, Path: cur.Path,
				Message: "next_page_link is not a link on the API host; refusing to follow it"}
		}
		if seen[next.String()] {
			return &Error{Kind: KindOther, Method: http.MethodGet, Path: cur.Path,
				Message: "next_page_link points back to a page already read"}
		}
		cur = next
	}
}
