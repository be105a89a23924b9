package activities

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/nexsalto/nexsalto/access"
)

// What a multi-call activity (linking a customer's Salto user, granting a visitor) has achieved so far is
// remembered between its attempts, so that a retry repeats only the call that failed: a user found or created
// stays found, a PIN generated is the one written to Nexudus. The first try of a Salto call is a local
// activity and the retries a regular one, possibly on another worker, so the memory is the worker's, not the
// attempt's; a retry that lands on a worker without it starts over, which is safe because every step looks
// up before it creates. Entries are short-lived: they only bridge the retries of one change.
const (
	progressCacheSize = 20_000
	progressTTL       = 10 * time.Minute
)

type progressCache struct {
	once sync.Once
	lru  *expirable.LRU[string, any]
}

func (c *progressCache) get() *expirable.LRU[string, any] {
	c.once.Do(func() { c.lru = expirable.NewLRU[string, any](progressCacheSize, nil, progressTTL) })
	return c.lru
}

func (c *progressCache) save(key string, v any) { c.get().Add(key, v) }
func (c *progressCache) forget(key string)      { c.get().Remove(key) }

// loadProgress returns the progress saved under key, or the zero value.
func loadProgress[T any](c *progressCache, key string) T {
	v, _ := c.get().Get(key)
	p, _ := v.(T)
	return p
}

// forgetOnFinal drops the progress of an activity that failed for good (a user deleted by hand meanwhile, say):
// the next change starts over and looks everything up again.
func (a *Activities) forgetOnFinal(key string, err *error) {
	if *err != nil && access.IsFinal(*err) {
		a.progress.forget(key)
	}
}
