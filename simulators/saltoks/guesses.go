package saltoks

import (
	"errors"
	"fmt"
	"net/http"
)

// Guesses are the simulator's answers where the shared API notes mark the live behaviour as unknown [G]. They
// live here, in one place, each with the default the notes suggest and a switch to the other plausible answer,
// so that a test can show the product copes with either. Options.Guesses sets them at start, SetGuesses and
// PUT /admin/guesses while running. The zero value is the documented default of each.
type Guesses struct {
	// SubscribeWithoutSeat is the answer to PATCH …/subscription {"state":"subscribed"} for a suspended user
	// while the site has no free licence seat.
	SubscribeWithoutSeat SubscribeAnswer `json:"subscribe_without_seat"`
}

// SubscribeAnswer is one way Salto may answer a subscribe without a free seat.
type SubscribeAnswer string

const (
	// SubscribeStaysSuspended answers 200 with the user, subscription_state still "suspended": the pattern the
	// notes document for creating a user without a free seat, and what they tell a client to expect. Default.
	SubscribeStaysSuspended SubscribeAnswer = "stays_suspended"
	// SubscribeRefused answers 403 ErrorCode 2301 (this simulator's code for "no free seat").
	SubscribeRefused SubscribeAnswer = "refused"
)

func (g Guesses) normalized() Guesses {
	if g.SubscribeWithoutSeat == "" {
		g.SubscribeWithoutSeat = SubscribeStaysSuspended
	}
	return g
}

func (g Guesses) validate() error {
	switch g.normalized().SubscribeWithoutSeat {
	case SubscribeStaysSuspended, SubscribeRefused:
		return nil
	}
	return fmt.Errorf("subscribe_without_seat must be %q or %q", SubscribeStaysSuspended, SubscribeRefused)
}

// Guesses returns the answers in force.
func (s *Server) Guesses() Guesses {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.guesses
}

// SetGuesses replaces the answers; the zero Guesses restores every default.
func (s *Server) SetGuesses(g Guesses) error {
	if err := g.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guesses = g.normalized()
	return nil
}

// SetSeats changes a site's licence-seat limit (0 = unlimited). Users keep their state: lowering the limit
// below the subscribed users suspends nobody, as a smaller licence would only stop new subscriptions.
func (s *Server) SetSeats(siteRef string, seats int) error {
	if seats < 0 {
		return fmt.Errorf("seats must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.siteForSeed(siteRef)
	if err != nil {
		return err
	}
	st.seats = seats
	return nil
}

func (s *Server) guessRoutes() {
	s.mux.HandleFunc("GET /admin/guesses", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Guesses())
	})
	s.mux.HandleFunc("PUT /admin/guesses", func(w http.ResponseWriter, r *http.Request) {
		var g Guesses
		if !readAdminBody(w, r, &g) {
			return
		}
		if err := s.SetGuesses(g); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, s.Guesses())
	})
	s.mux.HandleFunc("PUT /admin/sites/{site}/seats", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Seats int `json:"seats"`
		}
		if !readAdminBody(w, r, &b) {
			return
		}
		if err := s.SetSeats(r.PathValue("site"), b.Seats); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, ErrNotFound) {
				status = http.StatusNotFound
			}
			adminError(w, status, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
