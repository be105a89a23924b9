package saltoks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Admin HTTP API.

func (s *Server) adminRoutes() {
	m := s.mux
	m.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	m.HandleFunc("PUT /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !readAdminBody(w, r, &f) {
			return
		}
		if err := s.SetFaults(f); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, s.Faults())
	})
	m.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	m.HandleFunc("DELETE /admin/stats", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /admin/tokens/revoke", func(w http.ResponseWriter, _ *http.Request) {
		s.RevokeAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /admin/sites", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Sites())
	})
	m.HandleFunc("POST /admin/sites", func(w http.ResponseWriter, r *http.Request) {
		var seed SiteSeed
		if readAdminBody(w, r, &seed) {
			adminCreated(w, func() (any, error) { return s.SeedSite(seed) })
		}
	})
	m.HandleFunc("GET /admin/sites/{site}/users", func(w http.ResponseWriter, r *http.Request) {
		adminList(w, s.Users(r.PathValue("site")))
	})
	m.HandleFunc("POST /admin/sites/{site}/users", func(w http.ResponseWriter, r *http.Request) {
		var seed UserSeed
		if readAdminBody(w, r, &seed) {
			adminCreated(w, func() (any, error) { return s.SeedUser(r.PathValue("site"), seed) })
		}
	})
	m.HandleFunc("GET /admin/sites/{site}/groups", func(w http.ResponseWriter, r *http.Request) {
		adminList(w, s.Groups(r.PathValue("site")))
	})
	m.HandleFunc("POST /admin/sites/{site}/groups", func(w http.ResponseWriter, r *http.Request) {
		var seed GroupSeed
		if readAdminBody(w, r, &seed) {
			adminCreated(w, func() (any, error) { return s.SeedAccessGroup(r.PathValue("site"), seed) })
		}
	})
	m.HandleFunc("GET /admin/sites/{site}/locks", func(w http.ResponseWriter, r *http.Request) {
		adminList(w, s.Locks(r.PathValue("site")))
	})
	m.HandleFunc("POST /admin/sites/{site}/locks", func(w http.ResponseWriter, r *http.Request) {
		var seed LockSeed
		if readAdminBody(w, r, &seed) {
			adminCreated(w, func() (any, error) { return s.SeedLock(r.PathValue("site"), seed) })
		}
	})
	m.HandleFunc("GET /admin/sites/{site}/entries", func(w http.ResponseWriter, r *http.Request) {
		adminList(w, s.Entries(r.PathValue("site")))
	})
	m.HandleFunc("POST /admin/sites/{site}/entries", func(w http.ResponseWriter, r *http.Request) {
		var seed EntrySeed
		if readAdminBody(w, r, &seed) {
			adminCreated(w, func() (any, error) { return s.SeedEntry(r.PathValue("site"), seed) })
		}
	})
}

func adminError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func readAdminBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		adminError(w, http.StatusBadRequest, fmt.Errorf("invalid JSON body: %w", err))
		return false
	}
	return true
}

func adminCreated(w http.ResponseWriter, create func() (any, error)) {
	v, err := create()
	switch {
	case errors.Is(err, ErrNotFound):
		adminError(w, http.StatusNotFound, err)
	case err != nil:
		adminError(w, http.StatusBadRequest, err)
	default:
		writeJSON(w, http.StatusCreated, v)
	}
}

// adminList answers 404 when the site is unknown (the Go methods return nil then).
func adminList[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		adminError(w, http.StatusNotFound, ErrNotFound)
		return
	}
	writeJSON(w, http.StatusOK, items)
}
