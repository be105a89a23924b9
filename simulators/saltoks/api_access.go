package saltoks

import (
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Access groups.

var referenceFields = map[string]fieldSpec{"customer_reference": stringEq}

func (s *Server) listAccessGroups(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	lq, rep := parseListQuery(r, referenceFields, false)
	if rep != nil {
		return *rep
	}
	out := []AccessGroup{}
	for _, g := range st.groups {
		match := true
		for _, c := range lq.filter {
			match = match && c.matchString(g.CustomerReference)
		}
		if match {
			out = append(out, g.AccessGroup)
		}
	}
	return pageReply(s, r, lq, out, false)
}

func (s *Server) createAccessGroup(r *http.Request) reply {
	var b struct {
		Name              string `json:"name"`
		CustomerReference string `json:"customer_reference"`
	}
	if rep := decodeBody(r, &b, false); rep != nil {
		return *rep
	}
	if strings.TrimSpace(b.Name) == "" {
		return validation("name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	// No idempotency, as live: the same customer_reference twice makes two groups.
	g := &accessGroup{AccessGroup: AccessGroup{ID: uuid.NewString(), Name: b.Name,
		CustomerReference: b.CustomerReference}}
	st.groups = append(st.groups, g)
	return createdReply(g.AccessGroup)
}

func memberView(u *siteUser) Member {
	return Member{ID: u.User.ID, FirstName: u.User.FirstName, LastName: u.User.LastName, Email: u.User.Email}
}

func (s *Server) listGroupMembers(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	g := st.group(r.PathValue("group"))
	if g == nil {
		return groupNotFound()
	}
	lq, rep := parseListQuery(r, nil, false)
	if rep != nil {
		return *rep
	}
	out := []Member{}
	for _, id := range g.members {
		if u := st.userByPlatformID(id); u != nil {
			out = append(out, memberView(u))
		}
	}
	return pageReply(s, r, lq, out, false)
}

func (s *Server) addGroupMember(r *http.Request) reply {
	var b struct {
		UserID string `json:"user_id"`
	}
	if rep := decodeBody(r, &b, false); rep != nil {
		return *rep
	}
	if b.UserID == "" {
		return validation("user_id is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	g := st.group(r.PathValue("group"))
	if g == nil {
		return groupNotFound()
	}
	// Membership is by platform id: a site-user id is simply not found, as live.
	u := st.userByPlatformID(b.UserID)
	if u == nil || s.now().Before(u.readyAt) {
		return userNotFound()
	}
	if g.hasMember(u.User.ID) {
		return errReply(http.StatusConflict, CodeAlreadyMember, "User is already a member of the access group")
	}
	g.members = append(g.members, u.User.ID)
	return createdReply(memberView(u))
}

func (s *Server) removeGroupMember(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	g := st.group(r.PathValue("group"))
	if g == nil {
		return groupNotFound()
	}
	if !g.removeMember(r.PathValue("user")) {
		return userNotFound()
	}
	return reply{status: http.StatusNoContent}
}

func (s *Server) listTimeSchedules(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	g := st.group(r.PathValue("group"))
	if g == nil {
		return groupNotFound()
	}
	lq, rep := parseListQuery(r, nil, false)
	if rep != nil {
		return *rep
	}
	return pageReply(s, r, lq, slices.Clone(g.schedules), false)
}

// Locks.

func (s *Server) listLocks(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	lq, rep := parseListQuery(r, referenceFields, false)
	if rep != nil {
		return *rep
	}
	out := []Lock{}
	for _, l := range st.locks {
		match := true
		for _, c := range lq.filter {
			match = match && c.matchString(l.CustomerReference)
		}
		if match {
			out = append(out, *l)
		}
	}
	return pageReply(s, r, lq, out, false)
}

// Entries (v1.1 only, as live).

var entryFields = map[string]fieldSpec{"utc_date_time": timeCompar, "lock_id": stringEq, "user_id": stringEq}

func (s *Server) listEntries(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	lq, rep := parseListQuery(r, entryFields, true)
	if rep != nil {
		return *rep
	}
	out := []Entry{}
	for _, e := range st.entries {
		match := true
		for _, c := range lq.filter {
			switch c.field {
			case "utc_date_time":
				match = match && c.matchTime(e.UTCDateTime)
			case "lock_id":
				match = match && c.matchString(e.LockID)
			case "user_id":
				match = match && c.matchString(e.UserID)
			}
		}
		if match {
			out = append(out, e)
		}
	}
	if lq.desc {
		slices.Reverse(out) // stored oldest first
	}
	return pageReply(s, r, lq, out, false)
}
