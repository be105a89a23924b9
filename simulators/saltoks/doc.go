// Package saltoks is a stateful simulator of the Salto KS Connect API and of the identity server in front of
// it. It follows the shared "Salto KS Connect API — what is known" notes field for field, so the real client can
// be tested end to end over HTTP, and it can inject the faults a production integration has to survive.
//
// Everything is served by one http.Handler (Server.Handler):
//
//	/connect/token, /connect/authorize   identity server (OAuth2: password, authorization_code + PKCE S256,
//	                                     refresh_token; client authentication by HTTP Basic only)
//	/v1.2/..., /v1.1/...                 Connect API, bearer token required
//	/admin/...                           seeding, inspection and fault injection; JSON, no authentication
//
// # Behaviour worth knowing
//
//   - {site} in API paths must be the site UUID; a site_uid (or anything else that is not a UUID) answers
//     400 ErrorCode 1100, as the live API does.
//   - Every site user has two ids: the site-user id (user, PIN, subscription and delete calls) and the platform
//     user.id (access-group membership, entries). Adding a site-user id to a group answers 404 2202.
//   - GET /v1.2/sites is always a bare JSON array. GET /v1.2/sites/{site}/users is a bare array when the request
//     has no $skip and the whole (filtered, $top-limited) result fits in one page of Options.PageSize; otherwise it
//     is the {items, next_page_link, count} envelope. Pages reached through next_page_link always carry $skip,
//     so they are always enveloped. Locks, access groups, group members, time schedules and entries are always
//     enveloped. count is the total number of matching items when $inlinecount=allpages, null otherwise.
//   - next_page_link is absolute (scheme and host of the request) unless Options.RelativeNextLinks is set.
//   - OData: $filter supports "user/email eq '…'" (users), "customer_reference eq '…'" (access groups, locks),
//     "utc_date_time ge|gt|le|lt DateTime'…'", "lock_id eq '…'" and "user_id eq '…'" (entries), joined by "and".
//     String literals escape a quote by doubling it. Anything else answers 400 1100. $orderby is accepted only
//     on entries as "utc_date_time asc" or "utc_date_time desc" (default desc); anything else answers 400 1102.
//   - Seats: a site with a seat limit (SiteSeed.Seats, Options.Seats, or SetSeats later) answers 201 with
//     subscription_state "suspended" when a user is created while no seat is free; subscribing a suspended
//     user then answers as Guesses.SubscribeWithoutSeat says (see Guesses below). Suspended users hold no
//     seat. Deleting a user answers 202 and frees the seat at once. Guests use no seat.
//   - Options.ConsistencyWindow: for that long after a user is created through the API, adding the user to a
//     group answers 404 2202 and PIN calls answer 403 2203, as on the live API right after creation.
//   - Adding a member twice answers 409 ErrorCode 2206; removing a non-member answers 404 2202.
//   - Error bodies are {"ErrorCode": "…", "Message": "…"}. Codes 1100, 1101, 1102, 2202 and 2203 are the ones
//     seen on the live API; 2201 (site not found), 2204 (access group not found), 2205 (lock not found), 2206
//     (already a member), 2301 (no free seat), 4290 (rate limited) and 5000 (injected server error) are this
//     simulator's own choices, because the live codes for those cases are unknown.
//   - An access token must carry the scope user_api.full_access, else the API answers 403 2203. A refresh token
//     is issued only when offline_access was requested.
//
// # Guesses
//
// Where the notes mark the live behaviour as unknown [G], the simulator's answer is a guess. The guesses that
// change what a client must handle are switches in one place, the Guesses type (Options.Guesses at start,
// SetGuesses or PUT /admin/guesses while running), each defaulting to what the notes tell a client to expect:
//
//   - SubscribeWithoutSeat: subscribing a suspended user while no seat is free. Default
//     SubscribeStaysSuspended, 200 with the user still "suspended" (the documented pattern of a create without
//     a seat); SubscribeRefused answers 403 ErrorCode 2301 instead.
//
// Fixed choices that no client depends on: the error codes listed above as this simulator's own, $skip paging,
// and member-list items shaped as platform users.
//
// # Admin API (JSON, no authentication)
//
//	GET    /admin/faults                      current faults: {"error_rate","rate_limit_rate",
//	                                          "unauthorized_rate","retry_after_seconds","latency_ms",
//	                                          "requests_per_second","lost_answer_rate"}
//	PUT    /admin/faults                      replace the faults (same body); rates are fractions 0..1
//	GET    /admin/stats                       {"calls": {"GET /v1.2/sites/{site}/users": n, ...},
//	                                          "responses": {"200": n, "429": n, ...}, "total": n}
//	                                          (response "0": a write carried out, its answer lost)
//	DELETE /admin/stats                       reset the counters
//	POST   /admin/tokens/revoke               invalidate every access token (refresh tokens stay valid)
//	GET    /admin/guesses                     the answers chosen where live behaviour is unknown:
//	                                          {"subscribe_without_seat": "stays_suspended" | "refused"}
//	PUT    /admin/guesses                     replace them (same body; "" or {} restores the defaults)
//	GET    /admin/sites                       sites with their seat limit
//	POST   /admin/sites                       {"id"?, "site_uid", "customer_reference", "time_zone", "pin_enabled",
//	                                          "seats"} → the site
//	PUT    /admin/sites/{site}/seats          {"seats": n} the site's seat limit (0 = unlimited) → 204
//	GET    /admin/sites/{site}/users          site users with subscription_state, pin_set, created_at
//	POST   /admin/sites/{site}/users          {"first_name","last_name","alias","email","tag_id",
//	                                          "subscription_state","use_pin","blocked"} → the site user (usable
//	                                          at once: seeded users skip the consistency window)
//	GET    /admin/sites/{site}/groups         access groups with locks, schedules and members (platform id,
//	                                          site-user id, email, alias, subscription_state)
//	POST   /admin/sites/{site}/groups         {"name","customer_reference","lock_ids":[…],"schedules":[…]}
//	GET    /admin/sites/{site}/locks          locks
//	POST   /admin/sites/{site}/locks          {"name","customer_reference","lock_type","online"}
//	GET    /admin/sites/{site}/entries        entries, oldest first
//	POST   /admin/sites/{site}/entries        {"utc_date_time"?, "event_category"?, "event_detail"?,
//	                                          "access_by"?, "user_id" (platform) or "site_user_id", "lock_id",
//	                                          "exit_requested"} → the entry, names filled in from state
//
// In admin paths {site} may be the UUID or the site_uid. The same operations exist as Go methods (SeedSite,
// SeedUser, SeedAccessGroup, SeedLock, SeedEntry, SetSeats, Users, UserByEmail, Groups, GroupMembers, SetFaults,
// SetGuesses, Stats, ResetStats, RevokeAccessTokens, ...) for tests in the same process.
package saltoks
