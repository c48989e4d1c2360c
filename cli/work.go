package cli

import (
	"crypto"
	"fmt"
	"log/slog"

	"meshd/mesh"
	"meshd/work"
	"meshd/work/signing"
)

// startWork opens the node's work units: the work types of the
// work-command entries, the signing and verification keys, and the units a
// previous run left in the data directory.
func startWork(cfg *Config, m *mesh.Node, logger *slog.Logger) (*work.Manager, error) {
	wc := work.Config{NodeID: cfg.Node.ID, DataDir: cfg.Node.DataDir, Dialer: m, Logger: logger, Types: workTypes(cfg)}
	if s := cfg.WorkSigning; s != nil {
		key, err := signing.LoadPrivateKey(s.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("%s: privatekey %s: %w", s.Where, s.PrivateKey, err)
		}
		wc.SigningKey, wc.TokenExpiration = key, s.TokenExpiration
	}
	for _, v := range cfg.WorkVerification {
		key, err := signing.LoadPublicKey(v.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%s: publickey %s: %w", v.Where, v.PublicKey, err)
		}
		wc.VerifyKeys = append(wc.VerifyKeys, crypto.PublicKey(key))
	}
	return work.New(wc)
}

// workTypes are the work types of the work-command entries.
func workTypes(cfg *Config) []work.CommandType {
	var out []work.CommandType
	for _, w := range cfg.WorkCommands {
		out = append(out, work.CommandType{
			WorkType: w.WorkType, Command: w.Command, Params: w.Params,
			AllowRuntimeParams: w.AllowRuntimeParams, VerifySignature: w.VerifySignature,
		})
	}
	return out
}

// controlAdvert is how a control service is advertised.
func controlAdvert(works []mesh.WorkCommand) *mesh.Advert {
	return &mesh.Advert{ConnType: mesh.ConnTypeStream, Tags: map[string]string{"type": "Control Service"}, WorkCommands: works}
}

// workAds are the work types a control service advertises; signed ones
// are marked Secure, as receptor's.
func workAds(cfg *Config) []mesh.WorkCommand {
	var out []mesh.WorkCommand
	for _, w := range cfg.WorkCommands {
		out = append(out, mesh.WorkCommand{WorkType: w.WorkType, Secure: w.VerifySignature})
	}
	return out
}
