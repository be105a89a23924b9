// Package salto is a client for the Salto KS Connect API, following the shared "Salto KS Connect API — what is
// known" notes field for field.
//
// Things a caller must know:
//
//   - Every API path takes the site UUID (Site.ID), never the human site_uid.
//   - Every user has two ids: the site-user id (SiteUser.ID) for user, PIN, subscription and delete calls, and
//     the platform id (SiteUser.PlatformID, SiteUser.User.ID) for access-group membership and entries.
//   - Salto has no idempotency keys. FindUserByEmail and FindAccessGroupByReference come before creating;
//     AddGroupMember and RemoveGroupMember are safe to repeat.
//   - Right after a user is created, group joins may answer 404 2202 and PIN calls 403 2203 for about a minute.
//   - A user created while the site has no free licence seat comes back suspended (SiteUser.Suspended).
//   - The client does not retry (except once after a 401, with a refreshed token). Errors are *Error with a
//     Kind; IsRetryable and RetryAfter tell a caller such as a Temporal activity what to do.
//
// Authentication: the password grant for a KS system user (Config.Username), or the authorization-code flow
// with PKCE that an operator runs once (Connect); either way every new refresh token is written to
// Config.TokenFile (0600, atomic replace). Secrets, tokens and PINs are never logged: Config and PIN redact
// themselves when printed.
package salto
