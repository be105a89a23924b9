package activities

import (
	"context"

	"go.temporal.io/sdk/interceptor"

	"github.com/nexsalto/nexsalto/salto"
)

// BackgroundInterceptor makes every activity of the worker it is given to background work: its Salto calls get
// the rate limit's slots after every change that is due (salto.AsBackground). The worker of the background task
// queue has it, so what runs there is background because it was sent there, whatever the activity.
type BackgroundInterceptor struct {
	interceptor.WorkerInterceptorBase
}

// InterceptActivity marks the activity's context.
func (BackgroundInterceptor) InterceptActivity(_ context.Context,
	next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &backgroundActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

type backgroundActivity struct {
	interceptor.ActivityInboundInterceptorBase
}

func (b *backgroundActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	return b.Next.ExecuteActivity(salto.AsBackground(ctx), in)
}
