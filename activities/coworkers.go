package activities

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/nexsalto/nexsalto/nexudus"
)

// Coworker records read from Nexudus are kept a while: a customer workflow that finished idle and starts again
// for the customer's next booking links the same Salto user without spending a read of Nexudus' per-account
// budget. A change of the coworker (email, access card) reaches the customer workflow as a relink, which reads
// again and refreshes the entry; an entry too old is read again anyway.
const (
	coworkerCacheSize = 100_000
	coworkerCacheTTL  = 12 * time.Hour
)

type coworkerCache struct {
	once sync.Once
	lru  *expirable.LRU[int64, nexudus.Coworker]
}

func (c *coworkerCache) get() *expirable.LRU[int64, nexudus.Coworker] {
	c.once.Do(func() { c.lru = expirable.NewLRU[int64, nexudus.Coworker](coworkerCacheSize, nil, coworkerCacheTTL) })
	return c.lru
}

// coworker returns the coworker, from the cache unless fresh is set or it is not there. A fresh record is one
// at least as new as asOf (the change a relink is for); with asOf zero, only a read is fresh.
func (a *Activities) coworker(ctx context.Context, id int64, fresh bool, asOf time.Time) (nexudus.Coworker, error) {
	cache := a.coworkers.get()
	if cw, ok := cache.Get(id); ok && (!fresh || !asOf.IsZero() && !cw.UpdatedOn.Time.Before(asOf)) {
		return cw, nil
	}
	cw, err := a.Nexudus.GetCoworker(ctx, int(id))
	if err != nil {
		cache.Remove(id)
		return cw, nexudusError(fmt.Sprintf("read coworker %d", id), err)
	}
	cache.Add(id, cw)
	return cw, nil
}

// rememberCoworkers keeps records the change poller just read: the relinks it sends for them then need no
// read of their own.
func (a *Activities) rememberCoworkers(cws []nexudus.Coworker) {
	cache := a.coworkers.get()
	for _, cw := range cws {
		if old, ok := cache.Get(int64(cw.Id)); !ok || !cw.UpdatedOn.Time.Before(old.UpdatedOn.Time) {
			cache.Add(int64(cw.Id), cw)
		}
	}
}
