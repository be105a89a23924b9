package saltoks

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

const maxBody = 1 << 20

// decodeBody reads a JSON body. An empty body decodes as {} when emptyOK.
func decodeBody(r *http.Request, v any, emptyOK bool) *reply {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		rep := errReply(http.StatusBadRequest, CodeBadParameter, "Unreadable body")
		return &rep
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if emptyOK {
			return nil
		}
		rep := errReply(http.StatusBadRequest, CodeBadParameter, "A JSON body is required")
		return &rep
	}
	if err := json.Unmarshal(b, v); err != nil {
		rep := errReply(http.StatusBadRequest, CodeBadParameter, "Malformed JSON body")
		return &rep
	}
	return nil
}

func validation(msg string) reply { return errReply(http.StatusBadRequest, CodeValidation, msg) }

func userNotFound() reply { return errReply(http.StatusNotFound, CodeUserNotFound, "User not found") }

func groupNotFound() reply {
	return errReply(http.StatusNotFound, CodeGroupNotFound, "Access group not found")
}

func noPermission(msg string) reply { return errReply(http.StatusForbidden, CodeNoPermission, msg) }

// Sites.

func (s *Server) listSites(*http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Site, 0, len(s.siteOrder))
	for _, id := range s.siteOrder {
		out = append(out, s.sites[id].view())
	}
	return okReply(out) // always a bare array, as live
}

func (s *Server) getSite(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	return okReply(st.view())
}

// Users.

var userFields = map[string]fieldSpec{"user/email": stringEq}

func (s *Server) listUsers(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	lq, rep := parseListQuery(r, userFields, false)
	if rep != nil {
		return *rep
	}
	out := []SiteUser{}
	for _, u := range st.users {
		match := true
		for _, c := range lq.filter {
			match = match && u.User.Email != nil && c.matchString(*u.User.Email)
		}
		if match {
			out = append(out, u.view())
		}
	}
	return pageReply(s, r, lq, out, true)
}

func (s *Server) getUser(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	u := st.userBySiteID(r.PathValue("user"))
	if u == nil {
		return userNotFound()
	}
	return okReply(u.view())
}

type newUserBody struct {
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Alias     string   `json:"alias"`
	Email     *string  `json:"email"`
	RoleIDs   []string `json:"role_ids"`
	TagID     *string  `json:"tag_id"`
	Blocked   bool     `json:"blocked"`
	UsePin    bool     `json:"use_pin"`
}

func validEmail(e string) bool {
	local, domain, ok := strings.Cut(e, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(e, " \t\r\n")
}

// newUserLocked creates a site user. A user created while no seat is free is suspended, as live: the call
// still succeeds. state forces a subscription state (admin seeding); "" applies the seat rule.
func (s *Server) newUserLocked(st *site, b newUserBody, state string, readyAt time.Time) (*siteUser, *reply) {
	if b.Email != nil && strings.TrimSpace(*b.Email) == "" {
		rep := validation("Email must not be empty; omit it for a user without an invitation")
		return nil, &rep
	}
	if b.Email != nil && !validEmail(*b.Email) {
		rep := validation("Email is not valid")
		return nil, &rep
	}
	if strings.TrimSpace(b.FirstName+b.LastName+b.Alias) == "" {
		rep := validation("first_name, last_name or alias is required")
		return nil, &rep
	}
	var roles []Role
	for _, id := range b.RoleIDs {
		role, ok := st.findRole(id)
		if !ok {
			rep := validation("Unknown role id " + id)
			return nil, &rep
		}
		roles = append(roles, role)
	}
	if len(roles) == 0 {
		roles = []Role{st.role(roleUser)}
	}
	switch state {
	case "":
		state = stateSubscribed
		if !st.seatFree() {
			state = stateSuspended
		}
	case stateSubscribed, stateSuspended:
	default:
		rep := validation("subscription_state must be subscribed or suspended")
		return nil, &rep
	}
	var email *string
	if b.Email != nil {
		e := strings.TrimSpace(*b.Email)
		email = &e
	}
	var tag *string
	if b.TagID != nil && *b.TagID != "" {
		t := *b.TagID
		tag = &t
	}
	u := &siteUser{
		SiteUser: SiteUser{
			ID:                uuid.NewString(),
			User:              User{ID: uuid.NewString(), FirstName: b.FirstName, LastName: b.LastName, Email: email},
			Roles:             roles,
			Alias:             b.Alias,
			SubscriptionState: state,
			UsePin:            b.UsePin,
			Blocked:           b.Blocked,
			TagID:             tag,
		},
		createdAt: s.now(),
		readyAt:   readyAt,
	}
	st.users = append(st.users, u)
	return u, nil
}

func (s *Server) createUser(r *http.Request) reply {
	var b newUserBody
	if rep := decodeBody(r, &b, false); rep != nil {
		return *rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	u, rep := s.newUserLocked(st, b, "", s.now().Add(s.opts.ConsistencyWindow))
	if rep != nil {
		return *rep
	}
	return createdReply(u.view())
}

type patchBody struct {
	FirstName *string    `json:"first_name"`
	LastName  *string    `json:"last_name"`
	Alias     *string    `json:"alias"`
	UsePin    *bool      `json:"use_pin"`
	Blocked   *bool      `json:"blocked"`
	TagID     *string    `json:"tag_id"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (s *Server) patchUser(r *http.Request) reply {
	var b patchBody
	if rep := decodeBody(r, &b, false); rep != nil {
		return *rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	u := st.userBySiteID(r.PathValue("user"))
	if u == nil {
		return userNotFound()
	}
	if b.FirstName != nil {
		u.User.FirstName = *b.FirstName
	}
	if b.LastName != nil {
		u.User.LastName = *b.LastName
	}
	if b.Alias != nil {
		u.Alias = *b.Alias
	}
	if b.UsePin != nil {
		u.UsePin = *b.UsePin
	}
	if b.Blocked != nil {
		u.Blocked = *b.Blocked
	}
	if b.TagID != nil {
		u.TagID = nil
		if *b.TagID != "" {
			t := *b.TagID
			u.TagID = &t
		}
	}
	if b.ExpiresAt != nil {
		t := b.ExpiresAt.UTC()
		u.ExpiresAt = &t
	}
	return okReply(u.view())
}

func (s *Server) deleteUser(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	u := st.userBySiteID(r.PathValue("user"))
	if u == nil {
		return userNotFound()
	}
	st.removeUser(u) // the seat is free at once, as live
	return reply{status: http.StatusAccepted}
}

func (s *Server) setSubscription(r *http.Request) reply {
	var b struct {
		State string `json:"state"`
	}
	if rep := decodeBody(r, &b, false); rep != nil {
		return *rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	u := st.userBySiteID(r.PathValue("user"))
	if u == nil {
		return userNotFound()
	}
	switch b.State {
	case stateSuspended:
		u.SubscriptionState = stateSuspended
	case stateSubscribed:
		if u.SubscriptionState != stateSubscribed && !u.guest && !st.seatFree() {
			if s.guesses.SubscribeWithoutSeat == SubscribeRefused {
				return errReply(http.StatusForbidden, CodeNoFreeSeat, "No free licence seat on this site")
			}
			// The documented pattern of a create without a seat: success, and the user stays suspended.
			return okReply(u.view())
		}
		u.SubscriptionState = stateSubscribed
	default:
		return validation(`state must be "subscribed" or "suspended"`)
	}
	return okReply(u.view())
}

func newPIN(old string) string {
	for {
		n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		if p := fmt.Sprintf("%06d", n.Int64()); p != old {
			return p
		}
	}
}

func (s *Server) generatePIN(r *http.Request) reply {
	var b struct {
		ExpiryDate *time.Time `json:"expiry_date"`
	}
	if rep := decodeBody(r, &b, true); rep != nil {
		return *rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	u := st.userBySiteID(r.PathValue("user"))
	if u == nil {
		return userNotFound()
	}
	now := s.now()
	if now.Before(u.readyAt) {
		return noPermission("No permission") // eventual consistency right after creation, as live
	}
	if !st.PinEnabled {
		return noPermission("PIN codes are not enabled on this site")
	}
	if b.ExpiryDate != nil && !b.ExpiryDate.After(now) {
		return validation("expiry_date must be in the future")
	}
	u.pin = newPIN(u.pin)
	return okReply(u.pin) // a bare JSON string, as live
}

func (s *Server) createGuest(r *http.Request) reply {
	var b struct {
		Alias     string     `json:"alias"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if rep := decodeBody(r, &b, false); rep != nil {
		return *rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rep := s.siteLocked(r.PathValue("site"))
	if rep != nil {
		return *rep
	}
	if strings.TrimSpace(b.Alias) == "" {
		return validation("alias is required")
	}
	if b.ExpiresAt == nil || !b.ExpiresAt.After(s.now()) {
		return validation("expires_at is required and must be in the future")
	}
	u, rep := s.newUserLocked(st, newUserBody{Alias: b.Alias, RoleIDs: []string{roleGuest}}, stateSubscribed,
		s.now().Add(s.opts.ConsistencyWindow))
	if rep != nil {
		return *rep
	}
	u.guest = true
	exp := b.ExpiresAt.UTC()
	u.ExpiresAt = &exp
	return createdReply(u.view())
}
