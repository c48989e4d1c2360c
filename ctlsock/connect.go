package ctlsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// dialTimeout bounds the mesh dial of a connect command.
const dialTimeout = 10 * time.Second

type connectTarget struct {
	node, service, tls string
}

// connect answers "connect <node> <service> [<tls>]": it dials the mesh
// service, replies "Connecting" and bridges the connection to it until both
// directions are done, which ends the session.
func (s *Server) connect(ctx context.Context, ss *Session, req Request) (any, error) {
	t, err := connectTargetOf(req)
	if err != nil {
		return nil, err
	}
	if t.tls != "" {
		// TLS client configs arrive in a later release.
		return nil, fmt.Errorf("unknown TLS config %s", t.tls)
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	mc, err := s.mesh.Dial(dctx, s.resolve(t.node), t.service)
	cancel()
	if err != nil {
		return nil, err
	}
	ss.End() // the bridge uses the connection up
	if _, err := io.WriteString(ss, "Connecting\n"); err != nil {
		mc.Close()
		return nil, nil
	}
	ss.bridge(ctx, mc)
	return nil, nil
}

// connectTargetOf parses both forms. The text form splits on single spaces:
// receptorctl sends "connect n s " with a trailing space, whose empty third
// token means "no TLS".
func connectTargetOf(req Request) (connectTarget, error) {
	if req.IsJSON() {
		return connectTargetJSON(req.JSON)
	}
	tokens := strings.Split(req.Params, " ")
	switch {
	case len(tokens) < 2:
		return connectTarget{}, errors.New("no connect target")
	case len(tokens) > 3:
		return connectTarget{}, errors.New("too many parameters")
	}
	t := connectTarget{node: tokens[0], service: tokens[1]}
	if len(tokens) == 3 {
		t.tls = tokens[2]
	}
	return t, nil
}

func connectTargetJSON(obj map[string]any) (connectTarget, error) {
	var t connectTarget
	var err error
	if t.node, err = jsonString(obj, "node", "no connect target node", "connect target node must be string"); err != nil {
		return t, err
	}
	if t.service, err = jsonString(obj, "service", "no connect target service", "connect target service must be string"); err != nil {
		return t, err
	}
	if _, ok := obj["tls"]; ok {
		t.tls, err = jsonString(obj, "tls", "", "connect tls name must be string")
	}
	return t, err
}

// jsonString reads a string member, with receptor's wording for a missing
// member and for one of another type.
func jsonString(obj map[string]any, key, missing, notString string) (string, error) {
	v, ok := obj[key]
	if !ok {
		return "", errors.New(missing)
	}
	s, ok := v.(string)
	if !ok {
		return "", errors.New(notString)
	}
	return s, nil
}

// bridge copies bytes both ways between the client and the mesh stream mc,
// as receptor's BridgeConns: the client's half-close half-closes mc; mc's
// EOF closes the client connection fully. It returns when both directions
// are done.
func (ss *Session) bridge(ctx context.Context, mc net.Conn) {
	defer mc.Close()
	defer context.AfterFunc(ctx, func() { mc.Close() })()
	// Either side of a bridge may be quiet for long (an interactive
	// session, a slow service); the far end has its own limits.
	ss.rd.noIdleTimeout()
	toMesh := make(chan struct{})
	go func() {
		defer close(toMesh)
		// ss.in first hands over the bytes buffered past the command line.
		if _, err := io.Copy(mc, ss.in); err != nil {
			ss.log.Debug("connect: client to service copy ended", "err", err)
		}
		halfClose(mc)
	}()
	if _, err := io.Copy(ss, mc); err != nil {
		ss.log.Debug("connect: service to client copy ended", "err", err)
	}
	ss.conn.Close()
	select {
	case <-toMesh:
	case <-time.After(ss.srv.opts.IdleTimeout):
		mc.Close() // a service that stopped reading cannot hold the session
		<-toMesh
	}
}

// halfClose ends our sending side of c. Without CloseWrite the only way to
// signal EOF is a full close.
func halfClose(c net.Conn) {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
		return
	}
	c.Close()
}
