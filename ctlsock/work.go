package ctlsock

import (
	"context"
	"errors"
)

// workNotSupported stands in for the work command until the work layer
// registers its own handler, so that users learn why instead of reading
// "Unknown command".
func workNotSupported(context.Context, *Session, Request) (any, error) {
	return nil, errors.New("work units are not supported yet")
}
