package saltoks

import (
	"slices"
	"strings"
)

// Sites lists the sites with their seat limits.
func (s *Server) Sites() []AdminSite {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AdminSite, 0, len(s.siteOrder))
	for _, id := range s.siteOrder {
		st := s.sites[id]
		out = append(out, AdminSite{Site: st.view(), Seats: st.seats})
	}
	return out
}

func adminUser(u *siteUser) AdminUser {
	return AdminUser{SiteUser: u.view(), Guest: u.guest, PinSet: u.pin != "", CreatedAt: u.createdAt}
}

// Users lists a site's users in creation order (nil for an unknown site).
func (s *Server) Users(siteRef string) []AdminUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.adminSiteLocked(siteRef)
	if st == nil {
		return nil
	}
	out := make([]AdminUser, 0, len(st.users))
	for _, u := range st.users {
		out = append(out, adminUser(u))
	}
	return out
}

// User returns a site user by site-user id.
func (s *Server) User(siteRef, siteUserID string) (AdminUser, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.adminSiteLocked(siteRef); st != nil {
		if u := st.userBySiteID(siteUserID); u != nil {
			return adminUser(u), true
		}
	}
	return AdminUser{}, false
}

// UserByEmail returns the first site user with that e-mail address (case-insensitive).
func (s *Server) UserByEmail(siteRef, email string) (AdminUser, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.adminSiteLocked(siteRef); st != nil {
		for _, u := range st.users {
			if u.User.Email != nil && strings.EqualFold(*u.User.Email, email) {
				return adminUser(u), true
			}
		}
	}
	return AdminUser{}, false
}

// UserPIN returns the user's current PIN ("" when none). Simulator PINs are fake, so tests may look at them.
func (s *Server) UserPIN(siteRef, siteUserID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.adminSiteLocked(siteRef); st != nil {
		if u := st.userBySiteID(siteUserID); u != nil {
			return u.pin
		}
	}
	return ""
}

func (s *Server) groupViewLocked(st *site, g *accessGroup) GroupView {
	v := GroupView{AccessGroup: g.AccessGroup, LockIDs: slices.Clone(g.locks),
		Schedules: slices.Clone(g.schedules), Members: []MemberView{}}
	if v.LockIDs == nil {
		v.LockIDs = []string{}
	}
	if v.Schedules == nil {
		v.Schedules = []TimeSchedule{}
	}
	for _, id := range g.members {
		mv := MemberView{UserID: id}
		if u := st.userByPlatformID(id); u != nil {
			mv.SiteUserID, mv.Email, mv.Alias = u.ID, u.User.Email, u.Alias
			mv.FirstName, mv.LastName, mv.SubscriptionState = u.User.FirstName, u.User.LastName, u.SubscriptionState
		}
		v.Members = append(v.Members, mv)
	}
	return v
}

// Groups lists a site's access groups with members (nil for an unknown site).
func (s *Server) Groups(siteRef string) []GroupView {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.adminSiteLocked(siteRef)
	if st == nil {
		return nil
	}
	out := make([]GroupView, 0, len(st.groups))
	for _, g := range st.groups {
		out = append(out, s.groupViewLocked(st, g))
	}
	return out
}

// GroupMembers returns the platform user ids in a group, in join order (nil for an unknown site or group).
func (s *Server) GroupMembers(siteRef, groupID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.adminSiteLocked(siteRef); st != nil {
		if g := st.group(groupID); g != nil {
			return append([]string{}, g.members...)
		}
	}
	return nil
}

// Locks lists a site's locks.
func (s *Server) Locks(siteRef string) []Lock {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.adminSiteLocked(siteRef)
	if st == nil {
		return nil
	}
	out := make([]Lock, 0, len(st.locks))
	for _, l := range st.locks {
		out = append(out, *l)
	}
	return out
}

// Entries lists a site's access events, oldest first.
func (s *Server) Entries(siteRef string) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.adminSiteLocked(siteRef)
	if st == nil {
		return nil
	}
	return append([]Entry{}, st.entries...)
}
