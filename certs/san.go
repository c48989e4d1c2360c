package certs

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	// OIDSubjectAltName is the subjectAltName extension (RFC 5280 4.2.1.6).
	OIDSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// OIDReceptorName is the otherName type-id receptor uses for a node ID
	// (the Red Hat arc).
	OIDReceptorName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 2312, 19, 1}
)

// MaxNodeIDs bounds how many node IDs NodeIDs returns from one
// certificate; a certificate with more is refused rather than parsed.
const MaxNodeIDs = 256

// GeneralName tags (context-specific) used in a subjectAltName.
const (
	tagOtherName = 0
	tagDNSName   = 2
	tagIPAddress = 7
)

// MarshalSAN encodes a subjectAltName extension value holding the DNS names,
// the IP addresses and one receptor otherName per node ID, in that order,
// as receptor's MakeReceptorSAN does. Unlike receptor's encoder it stays
// valid for node IDs of any length.
//
// For dNSName=localhost and node foo it is, byte for byte:
//
//	30 1f 82 09 6c6f63616c686f7374
//	      a0 12 06 09 2b0601040192081301 a0 05 0c 03 666f6f
func MarshalSAN(dnsNames []string, ips []net.IP, nodeIDs []string) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, name := range dnsNames {
			b.AddASN1(cbasn1.Tag(tagDNSName).ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes([]byte(name))
			})
		}
		for _, ip := range ips {
			if ip4 := ip.To4(); ip4 != nil {
				ip = ip4
			}
			b.AddASN1(cbasn1.Tag(tagIPAddress).ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes(ip)
			})
		}
		for _, id := range nodeIDs {
			b.AddASN1(cbasn1.Tag(tagOtherName).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(OIDReceptorName)
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) {
						b.AddBytes([]byte(id))
					})
				})
			})
		}
	})
	return b.Bytes()
}

// NodeIDs returns the receptor node IDs in the certificate's
// subjectAltName otherNames, in order; none is an empty list. A malformed
// subjectAltName is an error.
func NodeIDs(cert *x509.Certificate) ([]string, error) {
	var ids []string
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(OIDSubjectAltName) {
			continue
		}
		more, err := ParseSANNodeIDs(ext.Value)
		if err != nil {
			return nil, err
		}
		ids = append(ids, more...)
		if len(ids) > MaxNodeIDs {
			return nil, fmt.Errorf("certificate names more than %d node IDs", MaxNodeIDs)
		}
	}
	return ids, nil
}

// RequestNodeIDs is NodeIDs for a certificate request.
func RequestNodeIDs(csr *x509.CertificateRequest) ([]string, error) {
	return NodeIDs(&x509.Certificate{Extensions: csr.Extensions})
}

// ParseSANNodeIDs returns the receptor node IDs in a subjectAltName
// extension value (a SEQUENCE OF GeneralName). Other GeneralNames, and
// otherNames of another type-id, are skipped, as receptor skips them. It
// never panics and returns at most MaxNodeIDs names.
func ParseSANNodeIDs(ext []byte) ([]string, error) {
	in := cryptobyte.String(ext)
	var names cryptobyte.String
	if !in.ReadASN1(&names, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("malformed subjectAltName extension")
	}
	ids := []string{}
	for !names.Empty() {
		var name cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1(&name, &tag) {
			return nil, errors.New("malformed subjectAltName entry")
		}
		if tag != cbasn1.Tag(tagOtherName).ContextSpecific().Constructed() {
			continue
		}
		id, ok, err := parseOtherName(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if len(ids) == MaxNodeIDs {
			return nil, fmt.Errorf("subjectAltName names more than %d node IDs", MaxNodeIDs)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// parseOtherName reads the contents of an otherName: type-id OID, then
// [0] EXPLICIT value. ok is false for another type-id. The value of a
// receptor name may be any of the string types receptor's decoder accepts
// for a Go string; meshd writes UTF8String.
func parseOtherName(in cryptobyte.String) (id string, ok bool, err error) {
	var oid asn1.ObjectIdentifier
	var explicit cryptobyte.String
	if !in.ReadASN1ObjectIdentifier(&oid) ||
		!in.ReadASN1(&explicit, cbasn1.Tag(0).ContextSpecific().Constructed()) || !in.Empty() {
		return "", false, errors.New("malformed otherName in subjectAltName")
	}
	if !oid.Equal(OIDReceptorName) {
		return "", false, nil
	}
	var value cryptobyte.String
	var tag cbasn1.Tag
	if !explicit.ReadAnyASN1(&value, &tag) || !explicit.Empty() {
		return "", false, errors.New("malformed receptor node ID in subjectAltName")
	}
	switch tag {
	case cbasn1.UTF8String, cbasn1.PrintableString, cbasn1.IA5String:
	default:
		return "", false, fmt.Errorf("receptor node ID in subjectAltName is not a string (ASN.1 tag %d)", tag)
	}
	if !utf8.Valid(value) {
		return "", false, errors.New("receptor node ID in subjectAltName is not valid UTF-8")
	}
	return string(value), len(value) > 0, nil // receptor skips empty names
}
