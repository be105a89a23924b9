// Package rules is the one home of every access rule: from a Nexudus record and the configured mapping of its
// location it computes the access.Entitlement (groups, grant and revoke instants, status, why), and it says
// whether an entitlement gives access at an instant. It does no I/O and knows no Temporal client, so the
// entitlement workflows (through the LoadEntitlement activity), reconciliation, the change poller and the
// starter's backfill all decide the same way.
//
// The rules, per kind (lead and lag are per location, with a per-kind override; see Timing):
//
//	booking   groups of its resource (and of its desk, for a desk booking); from start - lead to end + lag;
//	          tentative while Nexudus says so; no start or end: nothing
//	pass      groups of its pass product; from when it is on the account to its expiry; once used up, to the
//	          end of the day it was used (it paid for that day), if that comes first
//	contract  groups of its desks and offices; from start - lead to cancellation + lag; cancelled without a
//	          date: nothing; no longer active after its start: ended
//	visitor   the location's first visitor group, for the expected day (from its start, or arrival - lead
//	          if earlier, to its end), ended early by departure + lag
//
// Bookings and contracts carry no location: theirs is the first configured location whose mapping names the
// resource, desk or office (Locate). Days are calendar days in the location's time zone, so a day across a
// daylight-saving change is 23 or 25 hours long.
package rules
