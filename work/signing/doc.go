// Package signing signs and verifies remote work requests.
//
// Receptor signs remote work requests with a JWT (RS512). meshd uses its own
// small token instead, signed with Ed25519 by default or with RSA (RS512,
// PKCS#1 v1.5 over SHA-512), because existing receptor and AWX deployments
// already have RSA keys.
//
// A token is
//
//	v1.<base64url(claims JSON)>.<base64url(signature)>
//
// (base64url without padding). The claims JSON is written once by Sign with
// a fixed field order:
//
//	{"alg":"EdDSA","cmd":"submit","node":"n2","unit":"abc","worktype":"echo",
//	 "params":{"k":"v"},"payload":"<hex sha256>","exp":1767225600}
//
// worktype, params and payload are left out when empty. The signature covers
// "meshd work signature v1\x00" followed by the claims bytes exactly as
// transmitted, so verifying never depends on encoding the claims again.
//
// The token's "alg" never chooses how it is checked by itself: an RS512 token
// is checked only against RSA keys, an EdDSA token only against Ed25519 keys.
//
// Keys are read from PEM (PKCS#8, PKCS#1, PKIX) and OpenSSH files; see
// ParsePrivateKey and ParsePublicKey. Only unencrypted Ed25519 keys and RSA
// keys of at least 2048 bits are accepted. The package never reads a
// passphrase and never writes a key file: GenerateEd25519 returns PEM bytes
// for the caller to store.
package signing
