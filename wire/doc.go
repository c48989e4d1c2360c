// Package wire is everything that touches the bytes of a link: the frame
// format, the codecs of the messages carried in frames, the link transports
// (TCP and Unix stream sockets) and link security (TLS 1.3 with Ed25519 node
// identities, pinned-key trust, the hello handshake).
//
// Frame layout on every link, inside TLS:
//
//	uint32 length (big-endian, counts type + body, 1..MaxFrameSize)
//	uint8  type   (FrameHello, FrameLSA, FrameRouted, FrameKeepalive, FrameReject)
//	body   length-1 bytes
//
// wire knows nothing about routing, services or work: it only encodes,
// decodes and secures. Every decoder is bounded and returns an error on
// short, long or malformed input; none panics.
package wire

// ProtocolVersion is carried in the hello. Version 1: the frame types and
// codecs defined in this package.
const ProtocolVersion = 1
