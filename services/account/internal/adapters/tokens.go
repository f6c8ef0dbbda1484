package adapters

import (
	"time"

	"github.com/progressive-overload/po/services/kit/auth"

	"github.com/progressive-overload/po/services/account/internal/domain"
)

// TokenIssuer implements app.AccessTokenIssuer with kit/auth's signer.
type TokenIssuer struct {
	signer *auth.Signer
	ttl    time.Duration
}

// NewTokenIssuer wraps signer, whose tokens live ttl.
func NewTokenIssuer(signer *auth.Signer, ttl time.Duration) *TokenIssuer {
	return &TokenIssuer{signer: signer, ttl: ttl}
}

// Issue implements app.AccessTokenIssuer.
func (i *TokenIssuer) Issue(userID int64, role domain.Role, timeZone string) (string, time.Duration, error) {
	token, _, err := i.signer.Sign(auth.Claims{UserID: userID, Role: auth.Role(role), TimeZone: timeZone})
	if err != nil {
		return "", 0, err
	}
	return token, i.ttl, nil
}
