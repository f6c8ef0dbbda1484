package auth

import "context"

// Role is the coarse permission carried in a token's "role" claim.
type Role string

const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// Claims is what the account service puts into a token.
type Claims struct {
	UserID int64
	Role   Role
	// TimeZone is the user's IANA zone when the token was issued (the "tz"
	// claim), empty when unknown. Services use it only as a default: the
	// account service's events are the truth, and a token lives for minutes.
	TimeZone string
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID int64
	Role   Role
	// TimeZone is the token's "tz" claim, as signed and not looked up: a
	// service parses it where it needs a zone, and tokens from before the
	// claim existed have none.
	TimeZone string
}

// IsAdmin reports whether the caller has the admin role.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the principal stored by WithPrincipal (the
// Middleware stores it in the request's user context).
func PrincipalFromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
