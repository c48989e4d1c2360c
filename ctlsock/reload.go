package ctlsock

import (
	"context"
	"errors"
	"fmt"
)

// Receptor's reload error codes; receptorctl maps them to exit statuses.
const (
	ReloadCodeNotReloadable = 3 // a config item that needs a restart changed
	ReloadCodeFailed        = 4 // parse or run failure
)

// ReloadError is an error from Options.Reload that says which ERRORCODE to
// report. Any other error is reported with ReloadCodeFailed.
type ReloadError struct {
	Code int
	Err  error
}

func (e *ReloadError) Error() string { return e.Err.Error() }
func (e *ReloadError) Unwrap() error { return e.Err }

var errReloadUnsupported = errors.New("reload is not supported yet")

// reload answers "reload" (parameters ignored, as in receptor) with
// {"Success":true} or {"Success":false,"Error":"<msg> ERRORCODE <n>"}.
func (s *Server) reload(_ context.Context, ss *Session, _ Request) (any, error) {
	if s.opts.Reload == nil {
		return reloadFailure(errReloadUnsupported), nil
	}
	s.reloadMu.Lock()
	err := s.opts.Reload()
	s.reloadMu.Unlock()
	if err != nil {
		ss.log.Warn("reload failed", "err", err)
		return reloadFailure(err), nil
	}
	ss.log.Info("configuration reloaded")
	return map[string]any{"Success": true}, nil
}

func reloadFailure(err error) map[string]any {
	code := ReloadCodeFailed
	var re *ReloadError
	if errors.As(err, &re) {
		code = re.Code
	}
	return map[string]any{"Success": false, "Error": fmt.Sprintf("%s ERRORCODE %d", err, code)}
}
