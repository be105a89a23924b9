package activities

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/nexsalto/nexsalto/access"
)

// policyPace spaces the repairs that only apply the no-access policy (suspend or delete a user with nothing
// left), across every reconciliation of the worker. Each starts a customer workflow whose first task queues
// with the grants' on the customers' task queue: a chain's first reconciliation handed 25,000 of them over at
// once, and doors waited minutes behind their tasks (README, chain day). Nothing waits for these repairs, and
// what they do is bounded by Salto's rate anyway (three calls each).
type policyPace struct {
	once    sync.Once
	limiter *rate.Limiter
}

// paceBeat is how often a repair waiting for its turn heartbeats the ApplyReconcile activity.
const paceBeat = 10 * time.Second

// wait blocks until the next policy repair may go, at perSecond (0: no pacing), calling beat while it waits.
func (p *policyPace) wait(ctx context.Context, perSecond float64, beat func()) error {
	if perSecond <= 0 {
		return nil
	}
	p.once.Do(func() { p.limiter = rate.NewLimiter(rate.Limit(perSecond), 1) })
	r := p.limiter.Reserve()
	for d := r.Delay(); d > 0; d = r.Delay() {
		t := time.NewTimer(min(d, paceBeat))
		select {
		case <-ctx.Done():
			t.Stop()
			r.Cancel()
			return ctx.Err()
		case <-t.C:
		}
		beat()
	}
	return nil
}

// policyOnly reports an action whose only repair is the no-access policy: no membership to add or remove, no
// workflow to refresh, no subscription to renew.
func policyOnly(act access.ReconcileAction) bool {
	return act.Policy != "" && act.Repair != nil && len(act.Add) == 0 && len(act.Remove) == 0 &&
		len(act.Refresh) == 0 && !(act.Repair.User != nil && act.Repair.User.Suspended && !act.Repair.NothingLeft)
}
