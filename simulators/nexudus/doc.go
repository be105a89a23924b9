// Package nexudussim is a stateful simulator of the Nexudus REST API and of the
// webhooks Nexudus sends, for tests, benchmarks and the dev stack.
//
// # Nexudus API (/api)
//
// POST /api/token issues bearer tokens (form grant_type=password&username&password, or
// grant_type=refresh_token&refresh_token; refresh tokens rotate and last 15 days;
// errors are OAuth-shaped {error, error_description}). Every other /api call needs a
// live bearer token or HTTP Basic credentials, else 401.
//
// Each entity lives at its Nexudus path:
//
//	/api/spaces/coworkers                 Coworker
//	/api/spaces/bookings                  Booking            (lists omit Notes)
//	/api/spaces/resources                 Resource
//	/api/spaces/visitors                  Visitor
//	/api/spaces/checkins                  Checkin
//	/api/billing/coworkertimepasses       CoworkerTimePass
//	/api/billing/timepasses               TimePass
//	/api/billing/coworkercontracts        CoworkerContract   (lists omit Desks, Notes)
//	/api/sys/floorplandesks               FloorPlanDesk
//	/api/sys/coworkeraccesscontrolaudits  CoworkerAccessControlAudit
//	/api/sys/businesses                   Business
//	/api/sys/webhooks                     Webhook {BusinessId, Name, Action, URL}
//
// GET {path} lists: page (from 1), size (default 25, at most Options.PageSizeMax),
// orderBy (a property, optionally prefixed "{Entity}_"), dir (Ascending/Descending),
// equality filters {Entity}_{Property}=value on any scalar property (strings compare
// case-insensitively, "null" matches an empty value, an id-list property matches when
// it contains the id), and inclusive ranges from_{Entity}_{Property} /
// to_{Entity}_{Property} on date properties (YYYY-MM-DDTHH:mm, UTC). An unknown
// {Entity}_{Property} is a 400 rather than silently ignored, to catch client typos.
// The answer is {Records, CurrentPage, CurrentPageSize, TotalItems, TotalPages,
// HasNextPage, HasPreviousPage, ...}. GET {path}/{id} returns the full record.
//
// POST {path} creates, PUT {path} (Id in the body) or PUT {path}/{id} merges the
// properties sent into the record, DELETE {path}/{id} deletes. All answer
// {Status, Message, Value:{Id}, WasSuccessful, Errors:[{AttemptedValue, Message,
// PropertyName}]}; validation failures are 400 with WasSuccessful false. References
// are checked (a booking's resource, a pass' coworker, ...) and derived fields are
// filled: ResourceName, TimePassName, a contract's Desks, desks' CoworkerContractIds
// and CoworkerId, a booking's FromTimeLocal/ToTimeLocal from its business time zone
// (UTC fields are written with "Z", local ones without a zone). UpdatedOn is set from
// Options.Clock on every write.
//
// Throttling: a sliding one-minute budget of calls (default 120) and writes (default
// 60); a call over budget gets 409 with Retry-After (seconds) and a JSON message. Writes
// are also capped per UTC day (default 2,500, the stricter documented figure; 5,000 is
// the other): a guess, like the answer over it, a 409 with the seconds until midnight UTC.
//
// # Webhooks
//
// Writes through the API or the admin entity API (not seeds) send, for every active
// webhook registered for the action (and for the record's business, when the webhook
// names one), a POST with a JSON array holding the one full record, serialised as
// Json.NET does by default (UTF-8, no escaping of <, > and &). With
// Options.WebhookSecret set it is signed with X-Nexudus-Hook-Signature the documented
// way: uppercase hex HMAC-SHA256 keyed with the secret over the body, both passed
// through .NET's ASCIIEncoding first, so each non-ASCII character (é, €, an emoji)
// is hashed as '?' although the body is sent as UTF-8. Options.WebhookSignsRawUTF8 is
// a guess switch: it signs the raw UTF-8 bytes with the raw secret instead, the
// behaviour Nexudus would have if it ever signed what it sends; a receiver should
// accept both. Actions: booking create/update/delete 6/7/8; contract
// create 10 (plus 14 for a customer's first contract), cancellation (Cancelled set or
// CancellationDate set/changed) or deletion 11, tariff change 13, other changes 12;
// coworker create/update 3/2; visitor create 42, visitor arrival 41; check-in
// create/update/delete 47/48/49; nothing for passes. The admin panel's "Customer deleted"
// and "Floor plan desk created/updated/deleted" have no documented numbers: the simulator
// sends them as CoworkerDelete 1001 and FloorPlanDeskCreate/Update/Delete 1002/1003/1004
// (the nexudus package's own numbers; a guess, and harmless since receivers are told the
// action by the URL), a desk update also whenever a contract write changes which
// contracts hold the desk (a guess too). "Access control updated" is accepted for
// registration (1005) but never sent: what Nexudus sends it for is not documented. Delivery is asynchronous,
// in order per URL, tried Options.WebhookAttempts times with doubling delays; after
// Options.WebhookDisableAfter consecutive failed deliveries the webhook is set
// inactive, as Nexudus does.
//
// # Admin API (/admin, JSON, no authentication)
//
//	POST   /admin/seed                      Dataset in, whole state out (see Seed)
//	GET    /admin/state                     whole state (Dataset)
//	POST   /admin/reset                     delete all records, webhooks and the delivery log
//	PUT    /admin/entities/{collection}     save one record as back-office staff would
//	                                        (Id 0 creates; else replaces); fires webhooks
//	DELETE /admin/entities/{collection}/{id}
//	GET    /admin/faults, PUT /admin/faults Faults; PUT changes only the fields sent:
//	                                        {"ErrorRate":0.1, "ThrottleRate":0.05,
//	                                         "ThrottleNext":0, "ErrorNext":0,
//	                                         "RetryAfter":2, "Latency":"150ms",
//	                                         "CallsPerMinute":120, "WritesPerMinute":60}
//	                                        (ThrottleNext/ErrorNext fail exactly the
//	                                        next n calls; budgets 0 = unlimited)
//	GET    /admin/stats, DELETE /admin/stats  calls by "METHOD /path" ({id} for ids)
//	GET    /admin/webhooks                  registrations with their Active state
//	GET    /admin/webhooks/deliveries       delivery log
//	GET    /admin/webhooks/drop, PUT /admin/webhooks/drop  {"Drop": true} loses webhooks
//	POST   /admin/tokens/expire             invalidate all access tokens
//	POST   /admin/tokens/revoke-refresh     invalidate all refresh tokens
//
// {collection} is the last segment of the entity path ("bookings"). The same is
// available to Go tests: Seed, State, Reset, Save, Delete, Get, All, Booking,
// Checkins, Audits, SetFaults, Stats, ResetStats, SetDropWebhooks, Deliveries, Flush,
// ExpireAccessTokens, RevokeRefreshTokens.
package nexudussim
