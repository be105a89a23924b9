package saltoks

import (
	"encoding/json"
	"fmt"
	"time"
)

// Snapshot and Restore let the dev stack keep the simulator's sites across restarts, as a real Salto KS would
// keep them: workflows resumed from the Temporal database must find the users and groups they left.
// Tokens are not kept (clients simply log in again); faults and counters neither.

type snapshot struct {
	Sites []siteSnapshot `json:"sites"`
}

type siteSnapshot struct {
	Site    Site            `json:"site"`
	Seats   int             `json:"seats"`
	Roles   []Role          `json:"roles"`
	Users   []userSnapshot  `json:"users"`
	Groups  []groupSnapshot `json:"groups"`
	Locks   []Lock          `json:"locks"`
	Entries []Entry         `json:"entries"`
}

type userSnapshot struct {
	SiteUser  SiteUser  `json:"site_user"`
	Guest     bool      `json:"guest"`
	CreatedAt time.Time `json:"created_at"`
	ReadyAt   time.Time `json:"ready_at"`
	// PIN is the simulator's own state, written to the dev stack's private data folder only.
	PIN string `json:"pin"`
}

type groupSnapshot struct {
	Group     AccessGroup    `json:"group"`
	Locks     []string       `json:"locks"`
	Schedules []TimeSchedule `json:"schedules"`
	Members   []string       `json:"members"`
}

// Snapshot returns every site's state as JSON.
func (s *Server) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var snap snapshot
	for _, id := range s.siteOrder {
		st := s.sites[id]
		ss := siteSnapshot{Site: st.Site, Seats: st.seats, Roles: st.roles, Entries: st.entries}
		for _, u := range st.users {
			ss.Users = append(ss.Users, userSnapshot{SiteUser: u.SiteUser, Guest: u.guest, CreatedAt: u.createdAt,
				ReadyAt: u.readyAt, PIN: u.pin})
		}
		for _, g := range st.groups {
			ss.Groups = append(ss.Groups, groupSnapshot{Group: g.AccessGroup, Locks: g.locks, Schedules: g.schedules,
				Members: g.members})
		}
		for _, l := range st.locks {
			ss.Locks = append(ss.Locks, *l)
		}
		snap.Sites = append(snap.Sites, ss)
	}
	return json.Marshal(snap)
}

// Restore replaces every site with those of a Snapshot.
func (s *Server) Restore(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("saltoks: restore: %w", err)
	}
	sites := map[string]*site{}
	var order []string
	for _, ss := range snap.Sites {
		loc, err := time.LoadLocation(ss.Site.TimeZone)
		if err != nil {
			return fmt.Errorf("saltoks: restore site %s: %w", ss.Site.ID, err)
		}
		st := &site{Site: ss.Site, seats: ss.Seats, loc: loc, roles: ss.Roles, entries: ss.Entries}
		for _, u := range ss.Users {
			st.users = append(st.users, &siteUser{SiteUser: u.SiteUser, guest: u.Guest, createdAt: u.CreatedAt,
				readyAt: u.ReadyAt, pin: u.PIN})
		}
		for _, g := range ss.Groups {
			st.groups = append(st.groups, &accessGroup{AccessGroup: g.Group, locks: g.Locks, schedules: g.Schedules,
				members: g.Members})
		}
		for i := range ss.Locks {
			l := ss.Locks[i]
			st.locks = append(st.locks, &l)
		}
		sites[st.ID] = st
		order = append(order, st.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sites, s.siteOrder = sites, order
	return nil
}
