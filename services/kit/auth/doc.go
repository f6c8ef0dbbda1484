// Package auth issues and verifies the platform's access tokens.
//
// The account service owns the signing keys: it loads a [KeySet] from PEM
// files, signs RS256 JWTs with a [Signer] and publishes every accepted public
// key as a JWKS document ([JWKSHandler]). It verifies its own tokens with a
// [LocalVerifier]. Other services verify offline with a [RemoteVerifier] that
// fetches that JWKS lazily and keeps using the last good copy while the
// account service is unreachable.
//
// [Middleware] turns a verified bearer token into a [Principal] that handlers
// read with [PrincipalFrom] (Fiber) or [PrincipalFromContext] (strict-server
// handlers, which only receive a context.Context).
package auth
