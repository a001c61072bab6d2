package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rollcall/rollcall/identity"
)

// IssuerConfig configures an Issuer: the OAuth issuer whose JWT bearer
// tokens a tenant accepts besides its static tokens, as Entra ID's
// provisioning service sends them with the client credentials grant.
type IssuerConfig struct {
	// Issuer is the iss a token must carry, exactly: for Entra ID
	// "https://sts.windows.net/<tenant-id>/" (v1 tokens) or
	// "https://login.microsoftonline.com/<tenant-id>/v2.0" (v2). Required.
	Issuer string
	// JWKSURL is where the issuer publishes its signing keys, read when a
	// token names a key not seen yet: for Entra ID
	// "https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys".
	// Required.
	JWKSURL string
	// Audience must be one of the token's aud: the application ID URI (or
	// client ID) of the host's SCIM application. Required.
	Audience string
	// AppIDs are the client applications let in: a token's appid (v1) or
	// azp (v2) must be one of them. Required: an issuer signs tokens for
	// every application of its tenant.
	AppIDs []string
	// SigningAlgs are the accepted algorithms; none means RS256.
	SigningAlgs []string
	// HTTPClient fetches the keys; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Clock checks expiry and not-before; nil means the system clock.
	Clock identity.Clock
}

// Issuer checks JWT bearer tokens of one issuer: signature against the
// issuer's keys, iss, aud, exp, nbf and the client application. It keeps
// the keys it has fetched; build it once and share it across requests.
type Issuer struct {
	verifier *oidc.IDTokenVerifier
	apps     []string
}

// NewIssuer returns an Issuer, or an error naming a missing field.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("scim: IssuerConfig.Issuer is required")
	case cfg.JWKSURL == "":
		return nil, errors.New("scim: IssuerConfig.JWKSURL is required")
	case cfg.Audience == "":
		return nil, errors.New("scim: IssuerConfig.Audience is required")
	case len(cfg.AppIDs) == 0:
		return nil, errors.New("scim: IssuerConfig.AppIDs is required")
	}
	ctx := context.Background()
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = identity.SystemClock
	}
	keys := oidc.NewRemoteKeySet(ctx, cfg.JWKSURL)
	v := oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: cfg.SigningAlgs,
		Now:                  clock.Now,
	})
	return &Issuer{verifier: v, apps: slices.Clone(cfg.AppIDs)}, nil
}

// Verify returns nil if token is a valid JWT of the issuer for one of the
// configured applications; else an error that says why (for the log, never
// for the client).
func (i *Issuer) Verify(ctx context.Context, token string) error {
	t, err := i.verifier.Verify(ctx, token)
	if err != nil {
		return err
	}
	var c struct {
		AppID string `json:"appid"`
		AZP   string `json:"azp"`
	}
	if err := t.Claims(&c); err != nil {
		return err
	}
	app := c.AppID
	if app == "" {
		app = c.AZP
	}
	if app == "" || !slices.Contains(i.apps, app) {
		return fmt.Errorf("scim: the token's application %q is not let in", app)
	}
	return nil
}

// looksLikeJWT reports whether a bearer token has a JWT's three parts.
func looksLikeJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// verifyJWT reports whether one of the tenant's issuers accepts the token.
func (h *Handler) verifyJWT(r *http.Request, c Credentials, tok string) bool {
	if len(c.Issuers) == 0 || !looksLikeJWT(tok) {
		return false
	}
	for _, iss := range c.Issuers {
		err := iss.Verify(r.Context(), tok)
		if err == nil {
			return true
		}
		h.logger.Debug("scim: JWT refused", "err", err)
	}
	return false
}
