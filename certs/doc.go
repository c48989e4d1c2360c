// Package certs builds and checks receptor-compatible X.509 certificates: a
// CA (InitCA), node certificate requests (MakeRequest) and their signing
// (SignRequest), with the node ID carried as receptor carries it, in a
// subjectAltName otherName with type-id 1.3.6.1.4.1.2312.19.1 and value
// [0] EXPLICIT UTF8String. VerifyPeer checks a presented chain the way
// receptor's ReceptorVerifyFunc does (pins, chain to the roots, validity,
// key usage, node ID), and the loading helpers read the files named by
// receptor's tls-server and tls-client entries.
//
// The package only builds and checks certificates: it does not open
// connections, build tls.Config values or know about links; the mesh
// handshake uses it for that.
package certs
