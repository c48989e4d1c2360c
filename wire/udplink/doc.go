// Package udplink is meshd's reliable link transport over UDP: an ordered,
// flow- and congestion-controlled byte stream presented as a net.Conn
// (Dial) and a net.Listener that serves many peers on one UDP socket
// (Listen), so that the link handshake (TLS 1.3) and framing run over it
// exactly as over TCP. It is a minimal QUIC/KCP: no cryptography of its
// own (TLS on top provides it), one stream per connection.
//
// Setup. The dialer picks a random 64-bit connection ID and sends SYN
// (padded, so the reply is never larger). The listener answers statelessly
// with SYNACK: its own random ID and a cookie, an HMAC over the dialer's
// address, both IDs and a timestamp. The dialer echoes it in COOKIE; only
// a valid cookie younger than 10 s, from the address it was issued to,
// creates a connection. A flood of SYNs therefore costs the listener no
// memory, and connections are bounded (MaxConns, AcceptBacklog). Every
// later packet names the receiver's connection ID and must come from the
// address the connection was made from.
//
// Data. Segments carry up to mss bytes in datagrams of at most 1200 bytes
// (never fragmented on any IPv6-capable path) and are numbered by segment.
// Every segment carries a cumulative ack, the receive window (segments)
// and up to 8 SACK ranges (64 in a pure ack). The receiver acks every
// fourth in-order segment, at once on reordering, duplicates, holes and
// FIN, and otherwise within 5 ms; a run of datagrams read together is
// answered by one ack.
//
// Loss recovery. RTT is estimated as RFC 6298 says (Karn: samples only
// from segments sent once) and the RTO is clamped to [200 ms, 2 s] and
// doubles on each expiry, when every outstanding segment is presumed lost.
// Fast retransmit: a segment is lost once three acks have newly
// acknowledged segments sent after it ("three duplicate SACKs") and it
// has been out longer than srtt + max(2·rttvar, minRTT/4) — the time
// condition keeps the reordering of a jittery path from causing
// spurious retransmissions. Retransmitted segments are detected lost
// the same way, by send time, so a lost retransmission does not wait for
// the RTO.
//
// Congestion control is NewReno-like, counted in segments: slow start,
// then one segment per window, halved once per recovery episode, reset on
// RTO — but never below a floor, MinWindow (256 segments, ≈280 KB). The
// floor is a deliberate choice for meshd's links, which run on loopback
// and LANs: random (non-congestion) loss of a few percent would otherwise
// hold a pure NewReno window near 20 segments and a 40 ms path to a few
// hundred KB/s. Above the floor the window still backs off under
// congestion. MaxWindow (2048) and the receiver's window bound what is in
// flight.
//
// Flow control. The receiver holds at most RecvWindow segments (ordered
// and out of order together) and advertises what is left; the sender sends
// new segments only inside it, probes a closed window on its RTO timer,
// and the receiver announces a window reopened by a quarter at once.
// Write blocks while SendBuffer segments are queued. Nothing a peer sends
// — garbage, acks or SACKs for data never sent, huge windows, data outside
// the window — panics or grows memory beyond these bounds.
//
// Liveness. A connection that has sent nothing for KeepaliveInterval
// (500 ms) sends an empty ack; one that has heard nothing for IdleTimeout
// (2.5 s) fails with ErrIdle, so a peer that vanishes silently is detected
// here even without the mesh's own keepalives (which match these values).
//
// Shutdown. CloseWrite sends FIN after the queued data; the peer's Read
// returns io.EOF. Close does the same and discards unread data; the
// connection lingers until its FIN is acknowledged and the peer's FIN has
// arrived (or, FIN acknowledged, 1 s after Close; 10 s at most), then sends RST if the
// peer is not finished, and releases its state. Deadlines behave as for
// net.Conn (os.ErrDeadlineExceeded).
//
// Throughput. On Linux a burst of equal-size datagrams leaves in one
// system call (UDP GSO) and a run of them arrives in one (UDP GRO); where
// the kernel refuses, datagrams go one by one.
package udplink
