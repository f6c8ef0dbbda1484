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
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID int64
	Role   Role
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
