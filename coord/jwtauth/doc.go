// Package jwtauth signs and verifies coord messages with JWT
// (github.com/golang-jwt/jwt/v5). It implements coord.Signer and
// coord.Verifier; coord.Guard does the rest (expiry, replay, matching the
// claims to the message), so coord itself imports no JWT library.
//
// A token binds four things: the sender (iss), the message id (jti), the
// SHA-256 digest of the message's protected fields (dig, see coord.Digest) and
// the expiry (exp). Changing any protected field, replaying the message or
// presenting it after expiry makes coord.Guard reject it.
//
// Two schemes:
//
//   - HS256 with one shared secret, by default read from AGENT_JWT_SECRET by
//     FromEnv (called explicitly, never at init). Simple; every holder of the
//     secret can sign as anyone.
//   - EdDSA (Ed25519) with a key per agent: EdDSASigner on the agent,
//     EdDSAVerifier holding every agent's public key on the receiver, which
//     picks the key by the claimed sender. An agent cannot speak for another.
//
// Multi accepts either during a migration. Secrets never appear in errors or
// logs.
package jwtauth
