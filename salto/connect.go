package salto

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// AuthCodeURL is the identity-server URL an operator opens to grant access (authorization code with PKCE S256).
// state protects the callback against forged redirects; verifier is kept secret until Exchange.
func (c *Client) AuthCodeURL(state, verifier string) string {
	return c.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// Exchange trades the code from the callback for a token, which it persists to TokenFile. From then on the
// client (and any client built on the same TokenFile) uses the stored refresh token.
func (c *Client) Exchange(ctx context.Context, code, verifier string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	return c.tokens.exchange(ctx, code, verifier)
}

func randomState() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

const pageTemplate = `<!doctype html><html><head><meta charset="utf-8"><title>Salto KS</title></head>
<body style="font-family:sans-serif;margin:3em"><h1>%s</h1><p>%s</p></body></html>`

func writePage(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, pageTemplate, title, text)
}

// Connect runs the operator's one-time authorization: it listens on listenAddr for the redirect to
// cfg.RedirectURL (its path is the callback path), calls show with the URL the operator must open in a browser,
// waits for the callback, checks state, exchanges the code (PKCE), stores the token in cfg.TokenFile, answers
// the browser with a short page and stops. It returns when the token is stored, when the callback reports an
// error, or when ctx ends.
func Connect(ctx context.Context, cfg Config, listenAddr string, show func(url string)) error {
	if cfg.TokenFile == "" {
		return errors.New("salto: Connect needs TokenFile: the token would be lost")
	}
	if cfg.AuthorizeURL == "" {
		return errors.New("salto: Connect needs AuthorizeURL")
	}
	redirect, err := parseAbsURL("RedirectURL", cfg.RedirectURL)
	if err != nil {
		return err
	}
	c, err := New(cfg)
	if err != nil {
		return err
	}
	callbackPath := redirect.Path
	if callbackPath == "" {
		callbackPath = "/"
	}
	state, verifier := randomState(), oauth2.GenerateVerifier()

	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return fmt.Errorf("salto: listening for the callback: %w", err)
	}
	result := make(chan error, 1)
	var once sync.Once
	finish := func(err error) { once.Do(func() { result <- err }) }

	mux := http.NewServeMux()
	mux.HandleFunc(callbackPath, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			// Not ours (a stale tab or a forged request): refuse it and keep waiting for the real one.
			writePage(w, http.StatusBadRequest, "Unexpected request", "This link does not belong to the running "+
				"connect step. Use the URL it printed.")
			return
		}
		if e := q.Get("error"); e != "" {
			writePage(w, http.StatusBadRequest, "Access was not granted", "Salto KS answered: "+
				html.EscapeString(e)+". Run the connect step again.")
			finish(&Error{Kind: KindAuth, Code: e, Message: q.Get("error_description")})
			return
		}
		code := q.Get("code")
		if code == "" {
			writePage(w, http.StatusBadRequest, "No code", "The redirect carried no authorization code.")
			finish(&Error{Kind: KindAuth, Message: "the callback carried no authorization code"})
			return
		}
		if err := c.Exchange(ctx, code, verifier); err != nil {
			writePage(w, http.StatusBadGateway, "Connection failed", "The code could not be exchanged for a "+
				"token. The terminal shows why.")
			finish(err)
			return
		}
		writePage(w, http.StatusOK, "Connected to Salto KS", "The token is stored. You can close this window.")
		finish(nil)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	show(c.AuthCodeURL(state, verifier))

	select {
	case err = <-result:
	case err = <-serveErr:
		err = fmt.Errorf("salto: callback server stopped: %w", err)
	case <-ctx.Done():
		err = ctx.Err()
	}
	// Shutdown waits for the handler that is answering the browser, so the success page is delivered.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return err
}
