package nexudus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
)

// Page is Nexudus' list envelope. Records are partial: fetch one by id for all fields.
type Page[T any] struct {
	Records         []T  `json:"Records"`
	CurrentPage     int  `json:"CurrentPage"`
	CurrentPageSize int  `json:"CurrentPageSize"`
	TotalItems      int  `json:"TotalItems"`
	TotalPages      int  `json:"TotalPages"`
	HasNextPage     bool `json:"HasNextPage"`
	HasPreviousPage bool `json:"HasPreviousPage"`
}

// DefaultPageSize is the page size used when the query does not set "size".
const DefaultPageSize = 100

// maxPages stops a server whose HasNextPage never turns false.
const maxPages = 100000

// ErrStopPaging, returned by a ForEachPage callback, ends paging without an error.
var ErrStopPaging = errors.New("nexudus: stop paging")

// ForEachPage lists path page by page, calling fn with each page, following "page"
// while HasNextPage. q holds filters ({Entity}_{Property}=..., from_/to_ ranges),
// orderBy, dir and optionally size and a starting page; it is not modified.
//
// Records created or deleted while paging shift the pages; order by a stable field
// (Id, UpdatedOn) and tolerate a repeat or a miss at page boundaries.
func ForEachPage[T any](ctx context.Context, c *Client, path string, q url.Values, fn func(Page[T]) error) error {
	params := url.Values{}
	for k, v := range q {
		params[k] = append([]string(nil), v...)
	}
	if params.Get("size") == "" {
		params.Set("size", strconv.Itoa(DefaultPageSize))
	}
	page := 1
	if p, err := strconv.Atoi(params.Get("page")); err == nil && p > 0 {
		page = p
	}
	for n := 0; n < maxPages; n++ {
		params.Set("page", strconv.Itoa(page))
		var p Page[T]
		if err := c.get(ctx, path, params, &p); err != nil {
			return err
		}
		if err := fn(p); err != nil {
			if errors.Is(err, ErrStopPaging) {
				return nil
			}
			return err
		}
		if !p.HasNextPage {
			return nil
		}
		if len(p.Records) == 0 {
			return fmt.Errorf("nexudus: GET %s: page %d is empty but HasNextPage is set", path, page)
		}
		page++
	}
	return fmt.Errorf("nexudus: GET %s: more than %d pages", path, maxPages)
}

// ListAll returns every record of every page; see ForEachPage.
func ListAll[T any](ctx context.Context, c *Client, path string, q url.Values) ([]T, error) {
	var all []T
	err := ForEachPage(ctx, c, path, q, func(p Page[T]) error {
		all = append(all, p.Records...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// ListPage fetches one page (page numbers start at 1).
func ListPage[T any](ctx context.Context, c *Client, path string, q url.Values, page, size int) (Page[T], error) {
	params := url.Values{}
	for k, v := range q {
		params[k] = append([]string(nil), v...)
	}
	params.Set("page", strconv.Itoa(max(page, 1)))
	if size > 0 {
		params.Set("size", strconv.Itoa(size))
	}
	var p Page[T]
	err := c.get(ctx, path, params, &p)
	return p, err
}
