// Package nexudus is a client for the Nexudus REST API (areas spaces, billing and sys)
// and the receiving side of Nexudus webhooks.
//
// The client authenticates with a bearer token from /api/token (renewed with the
// refresh token before it expires or after a 401, and with the password grant when the
// refresh token is refused) or with HTTP Basic. It keeps a client-side call budget,
// waits out Nexudus' throttling (HTTP 409 with Retry-After) within a bound, and returns
// *Error for everything Nexudus refuses; IsNotFound, IsThrottled, IsRetryable and
// RetryAfter classify it.
//
// Lists are paged ({Records, HasNextPage, ...}); ListAll and ForEachPage follow the
// pages. Filters are url.Values: {Entity}_{Property}=value for equality and
// from_{Entity}_{Property} / to_{Entity}_{Property} (FormatFilterTime) for ranges.
// List records are partial; Get returns the full record.
//
// Entity field names mirror the Nexudus wire names exactly (Id, CoworkerId, ...).
// Nexudus date-times arrive with or without a zone; Time keeps both forms and
// ResolveInstant is the single place that decides what a FromTime/FromTimeLocal pair
// means.
//
// Webhooks are a JSON array holding one record, signed with an uppercase hex
// HMAC-SHA256 in X-Nexudus-Hook-Signature when a secret is set: VerifySignature, then
// ParseWebhook. The body need not say which action fired, so register one URL per
// action.
package nexudus
