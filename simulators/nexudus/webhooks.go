package nexudussim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/nexsalto/nexsalto/nexudus"
)

// Delivery states.
const (
	DeliveryQueued    = "queued"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryDropped   = "dropped"
)

// Delivery is one webhook send, as shown by GET /admin/webhooks/deliveries.
type Delivery struct {
	Seq        int64     `json:"Seq"`
	WebhookId  int       `json:"WebhookId"`
	Action     int       `json:"Action"`
	ActionName string    `json:"ActionName"`
	URL        string    `json:"URL"`
	Entity     string    `json:"Entity"`
	RecordId   int       `json:"RecordId"`
	Signed     bool      `json:"Signed"`
	Status     string    `json:"Status"`
	Attempts   int       `json:"Attempts"`
	StatusCode int       `json:"StatusCode,omitempty"` // of the last attempt
	Error      string    `json:"Error,omitempty"`      // of the last attempt
	QueuedAt   time.Time `json:"QueuedAt"`
	DoneAt     time.Time `json:"DoneAt,omitzero"`
}

// maxDeliveryLog bounds the delivery log; the oldest entries go first.
const maxDeliveryLog = 10000

type job struct {
	seq       int64
	hookID    int
	url       string
	body      []byte
	signature string
}

type urlQueue struct {
	jobs []*job
	wake chan struct{}
}

type hookState struct {
	drop     bool
	seq      int64
	log      []Delivery
	queues   map[string]*urlQueue
	failures map[int]int // consecutive failed deliveries per webhook
	pending  int         // queued or in flight
}

func (h *hookState) init() {
	h.queues = map[string]*urlQueue{}
	h.failures = map[int]int{}
}

// sign signs a webhook body as Nexudus documents (secret and body ASCII-folded, see
// nexudus.Sign), or over the raw UTF-8 with Options.WebhookSignsRawUTF8; "" without a
// secret.
func (s *Server) sign(body []byte) string {
	if s.opts.WebhookSecret == "" {
		return ""
	}
	if s.opts.WebhookSignsRawUTF8 {
		return nexudus.SignRawUTF8([]byte(s.opts.WebhookSecret), body)
	}
	return nexudus.Sign([]byte(s.opts.WebhookSecret), body)
}

// webhookBody serialises records as Json.NET does by default: <, > and & are not
// escaped as json.Marshal does (non-ASCII text stays UTF-8 in both).
func webhookBody(recs []record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(recs); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// emit queues one delivery per active webhook registered for each action, with a body
// holding the full record. The lock must be held: queueing under the lock keeps each
// URL's deliveries in the order the writes happened.
func (s *Server) emit(k *kind, acts []int, rec record) {
	if len(acts) == 0 {
		return
	}
	biz := 0
	if k.business != nil {
		biz = k.business(s, rec)
	}
	body, err := webhookBody([]record{rec})
	if err != nil {
		return
	}
	hooks := s.tables[kWebhook].sorted()
	now := time.Now()
	for _, a := range acts {
		for _, hr := range hooks {
			h := hr.(*Webhook)
			if h.Action != a || !h.Active || (h.BusinessId != 0 && biz != 0 && h.BusinessId != biz) {
				continue
			}
			s.hooks.seq++
			d := Delivery{Seq: s.hooks.seq, WebhookId: h.Id, Action: a, ActionName: actionNames[a], URL: h.URL,
				Entity: k.name, RecordId: rec.base().Id, Status: DeliveryQueued, QueuedAt: now}
			sig := s.sign(body)
			d.Signed = sig != ""
			if s.hooks.drop {
				d.Status, d.DoneAt = DeliveryDropped, now
				s.appendLog(d)
				continue
			}
			s.appendLog(d)
			s.enqueue(&job{seq: d.Seq, hookID: h.Id, url: h.URL, body: body, signature: sig})
		}
	}
}

func (s *Server) appendLog(d Delivery) {
	s.hooks.log = append(s.hooks.log, d)
	if n := len(s.hooks.log) - maxDeliveryLog; n > 0 {
		s.hooks.log = append([]Delivery(nil), s.hooks.log[n:]...)
	}
}

// logEntry finds a delivery by sequence number (the log is ordered by Seq).
func (s *Server) logEntry(seq int64) *Delivery {
	i := sort.Search(len(s.hooks.log), func(i int) bool { return s.hooks.log[i].Seq >= seq })
	if i < len(s.hooks.log) && s.hooks.log[i].Seq == seq {
		return &s.hooks.log[i]
	}
	return nil
}

// enqueue appends to the URL's queue, starting its worker on first use; the lock must
// be held.
func (s *Server) enqueue(j *job) {
	if s.ctx.Err() != nil {
		if d := s.logEntry(j.seq); d != nil {
			d.Status, d.Error, d.DoneAt = DeliveryFailed, "simulator closed", time.Now()
		}
		return
	}
	q, ok := s.hooks.queues[j.url]
	if !ok {
		q = &urlQueue{wake: make(chan struct{}, 1)}
		s.hooks.queues[j.url] = q
		s.wg.Add(1)
		go s.worker(q)
	}
	q.jobs = append(q.jobs, j)
	s.hooks.pending++
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// worker sends one URL's deliveries one at a time, in order.
func (s *Server) worker(q *urlQueue) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		var j *job
		if len(q.jobs) > 0 {
			j = q.jobs[0]
			q.jobs = q.jobs[1:]
		}
		s.mu.Unlock()
		if j == nil {
			select {
			case <-s.ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		s.deliver(j)
		s.mu.Lock()
		s.hooks.pending--
		s.mu.Unlock()
	}
}

// deliver tries a job up to WebhookAttempts times with doubling delays. A delivery
// that fails every attempt counts against its webhook, which is disabled after
// WebhookDisableAfter such failures in a row.
func (s *Server) deliver(j *job) {
	s.mu.Lock()
	r, found := s.tables[kWebhook].rows[j.hookID]
	live := found && r.(*Webhook).Active
	if !live {
		if d := s.logEntry(j.seq); d != nil {
			d.Status, d.Error, d.DoneAt = DeliveryFailed, "webhook disabled or deleted before delivery", time.Now()
		}
	}
	s.mu.Unlock()
	if !live {
		return
	}
	delay := s.opts.WebhookRetryDelay
	var code int
	var errText string
	ok := false
	attempts := 0
	for attempt := 1; attempt <= s.opts.WebhookAttempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(delay)
			select {
			case <-s.ctx.Done():
				t.Stop()
				attempt = s.opts.WebhookAttempts + 1
				errText = "simulator closed"
				continue
			case <-t.C:
			}
			delay *= 2
		}
		attempts = attempt
		code, errText = s.post(j)
		s.mu.Lock()
		if d := s.logEntry(j.seq); d != nil {
			d.Attempts, d.StatusCode, d.Error = attempts, code, errText
		}
		s.mu.Unlock()
		if code >= 200 && code < 300 {
			ok = true
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.logEntry(j.seq); d != nil {
		d.DoneAt = time.Now()
		d.Error = errText
		d.Status = DeliveryFailed
		if ok {
			d.Status = DeliveryDelivered
		}
	}
	if ok {
		s.hooks.failures[j.hookID] = 0
		return
	}
	s.hooks.failures[j.hookID]++
	if s.hooks.failures[j.hookID] >= s.opts.WebhookDisableAfter {
		if r, found := s.tables[kWebhook].rows[j.hookID]; found && r.(*Webhook).Active {
			h := r.(*Webhook)
			h.Active = false
			h.UpdatedOn = At(s.now())
		}
	}
}

// post sends one attempt; it returns the status code (0 on a transport error) and an
// error text for anything but 2xx.
func (s *Server) post(j *job) (int, string) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(j.body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Nexudus-Webhooks-Simulator")
	if j.signature != "" {
		req.Header.Set("X-Nexudus-Hook-Signature", j.signature)
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Sprintf("receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, ""
}

// SetDropWebhooks switches dropping on or off: while on, webhooks that would be sent
// are logged as dropped instead, to test recovery from lost webhooks.
func (s *Server) SetDropWebhooks(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.drop = drop
}

// Deliveries returns the delivery log, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(make([]Delivery, 0, len(s.hooks.log)), s.hooks.log...)
}

// Flush waits until every queued webhook delivery has finished (delivered or failed
// after its retries), or ctx ends.
func (s *Server) Flush(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := s.hooks.pending
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nexudussim: %d webhook deliveries still pending: %w", n, ctx.Err())
		case <-t.C:
		}
	}
}
