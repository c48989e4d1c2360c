// Package proxy carries TCP, Unix-socket and UDP traffic across the mesh,
// as receptor's service proxies do (tcp-server/tcp-client,
// unix-socket-server/unix-socket-client, udp-server/udp-client).
//
// An Inbound accepts local connections (a TCP port or a Unix socket) and
// opens one mesh stream per connection to a remote service; an Outbound
// registers a mesh service and opens one local connection per incoming
// stream. Both bridge the two sides with large-buffer copies, pass a
// half-close on in each direction, and close only the connection whose
// dial failed. UDPInbound and UDPOutbound do the same for datagrams,
// keeping one session per peer address that expires when idle.
//
// The package knows nothing about configuration files or TLS: the caller
// opens local listeners and names the mesh services.
package proxy
