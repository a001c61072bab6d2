package saml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	_ "crypto/sha1" //nolint:gosec // RSA-OAEP's default digest and mask function, not a signature
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
)

// The algorithms of XML Encryption that an encrypted assertion may use, as
// registered with crewjam's xmlenc package (whose registry is global: this
// package's init adds to it, for every ServiceProvider of the process).
//
// crewjam v0.5.1 decrypts AES-128/192/256-CBC, 3DES-CBC and AES-128-GCM data,
// and RSA-OAEP-MGF1P and RSA-1_5 key transport. This package adds AES-192-GCM
// and AES-256-GCM (the data algorithm of Shibboleth, Keycloak and others when
// set to GCM), replaces crewjam's AES-128-GCM with one that refuses a short
// ciphertext instead of panicking, adds XML Encryption 1.1's RSA-OAEP (with
// its MGF element) and the DigestMethod URIs of SHA-256, SHA-384 and SHA-512
// that crewjam's RSA-OAEP-MGF1P does not know (it knows xmldsig#sha1).
const (
	algAES128GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	algAES192GCM = "http://www.w3.org/2009/xmlenc11#aes192-gcm"
	algAES256GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	algRSAOAEP   = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
)

func init() {
	xmlenc.RegisterDecrypter(aesGCM{keySize: 16, algorithm: algAES128GCM})
	xmlenc.RegisterDecrypter(aesGCM{keySize: 24, algorithm: algAES192GCM})
	xmlenc.RegisterDecrypter(aesGCM{keySize: 32, algorithm: algAES256GCM})
	xmlenc.RegisterDecrypter(rsaOAEP11{})
	for uri, h := range digests {
		if strings.Contains(uri, "#sha") && !strings.HasPrefix(uri, "http://www.w3.org/2000/09/xmldsig#") {
			xmlenc.RegisterDigestMethod(digest{uri, h})
		}
	}
}

// aesGCM decrypts XML Encryption 1.1's AES-GCM: the CipherValue is the
// 12-byte IV, then the ciphertext, then the 16-byte tag.
type aesGCM struct {
	keySize   int
	algorithm string
}

func (g aesGCM) Algorithm() string { return g.algorithm }

func (g aesGCM) Decrypt(key any, el *etree.Element) ([]byte, error) {
	if ek := el.FindElement("./KeyInfo/EncryptedKey"); ek != nil {
		var err error
		if key, err = xmlenc.Decrypt(key, ek); err != nil {
			return nil, err
		}
	}
	k, ok := key.([]byte)
	if !ok {
		return nil, xmlenc.ErrIncorrectKeyType("[]byte")
	}
	if len(k) != g.keySize {
		return nil, xmlenc.ErrIncorrectKeyLength(g.keySize)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	data, err := cipherValue(el)
	if err != nil {
		return nil, err
	}
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("xmlenc: AES-GCM ciphertext shorter than its IV and tag")
	}
	return aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], nil)
}

// rsaOAEP11 unwraps a key with XML Encryption 1.1's RSA-OAEP: the digest
// (DigestMethod, SHA-1 by default) and the mask function (MGF, MGF1 with
// SHA-1 by default) may differ, and OAEPparams is the label.
type rsaOAEP11 struct{}

func (rsaOAEP11) Algorithm() string { return algRSAOAEP }

func (rsaOAEP11) Decrypt(key any, el *etree.Element) ([]byte, error) {
	priv, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, xmlenc.ErrIncorrectKeyType("*rsa.PrivateKey")
	}
	opts := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	if dm := el.FindElement("./EncryptionMethod/DigestMethod"); dm != nil {
		uri := dm.SelectAttrValue("Algorithm", "")
		h, ok := digests[uri]
		if !ok {
			return nil, xmlenc.ErrAlgorithmNotImplemented(uri)
		}
		opts.Hash = h
	}
	if mgf := el.FindElement("./EncryptionMethod/MGF"); mgf != nil {
		uri := mgf.SelectAttrValue("Algorithm", "")
		h, ok := mgfs[uri]
		if !ok {
			return nil, xmlenc.ErrAlgorithmNotImplemented(uri)
		}
		opts.MGFHash = h
	}
	if p := el.FindElement("./EncryptionMethod/OAEPparams"); p != nil {
		label, err := base64.StdEncoding.DecodeString(strings.TrimSpace(p.Text()))
		if err != nil {
			return nil, fmt.Errorf("xmlenc: OAEPparams: %w", err)
		}
		opts.Label = label
	}
	data, err := cipherValue(el)
	if err != nil {
		return nil, err
	}
	return priv.Decrypt(nil, data, opts)
}

// cipherValue returns the decoded CipherData/CipherValue of el; base64 may
// be wrapped in lines.
func cipherValue(el *etree.Element) ([]byte, error) {
	cv := el.FindElement("./CipherData/CipherValue")
	if cv == nil {
		return nil, xmlenc.ErrCannotFindRequiredElement("CipherData/CipherValue")
	}
	text := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, cv.Text())
	data, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("xmlenc: CipherValue: %w", err)
	}
	return data, nil
}

// digests are the DigestMethod URIs of RSA-OAEP.
var digests = map[string]crypto.Hash{
	"http://www.w3.org/2000/09/xmldsig#sha1":        crypto.SHA1,
	"http://www.w3.org/2001/04/xmlenc#sha256":       crypto.SHA256,
	"http://www.w3.org/2001/04/xmldsig-more#sha384": crypto.SHA384,
	"http://www.w3.org/2001/04/xmlenc#sha512":       crypto.SHA512,
}

// mgfs are XML Encryption 1.1's mask generation functions.
var mgfs = map[string]crypto.Hash{
	"http://www.w3.org/2009/xmlenc11#mgf1sha1":   crypto.SHA1,
	"http://www.w3.org/2009/xmlenc11#mgf1sha224": crypto.SHA224,
	"http://www.w3.org/2009/xmlenc11#mgf1sha256": crypto.SHA256,
	"http://www.w3.org/2009/xmlenc11#mgf1sha384": crypto.SHA384,
	"http://www.w3.org/2009/xmlenc11#mgf1sha512": crypto.SHA512,
}

// digest is an xmlenc.DigestMethod, for crewjam's RSA-OAEP-MGF1P.
type digest struct {
	uri string
	h   crypto.Hash
}

func (d digest) Algorithm() string { return d.uri }
func (d digest) Hash() hash.Hash   { return d.h.New() }
