package saml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
)

// encryptedData builds an EncryptedData element of AES-GCM (alg) over
// plaintext, its key wrapped for pub with XML Encryption 1.1's RSA-OAEP
// (SHA-256 digest, MGF1 with SHA-512, a label), as an IdP would send it.
func encryptedData(t testing.TB, alg string, keySize int, pub *rsa.PublicKey, plaintext []byte) *etree.Element {
	t.Helper()
	key := make([]byte, keySize)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	label := []byte("label-1")
	wrapped, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, key, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA512, Label: label})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	doc := etree.NewDocument()
	err = doc.ReadFromString(`<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">` +
		`<xenc:EncryptionMethod Algorithm="` + alg + `"/><ds:KeyInfo><xenc:EncryptedKey>` +
		`<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep">` +
		`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>` +
		`<xenc11:MGF Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha512"/>` +
		`<xenc:OAEPparams>` + b64(label) + `</xenc:OAEPparams></xenc:EncryptionMethod>` +
		`<xenc:CipherData><xenc:CipherValue>` + b64(wrapped) + `</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>` +
		// Line-wrapped, as Shibboleth sends it.
		`<xenc:CipherData><xenc:CipherValue>` + lineWrap(b64(aead.Seal(nonce, nonce, plaintext, nil))) + `</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>`)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func lineWrap(s string) string {
	var b strings.Builder
	for len(s) > 16 {
		b.WriteString(s[:16] + "\n")
		s = s[16:]
	}
	return b.String() + s
}

// AES-128, -192 and -256-GCM data, with keys wrapped by XML Encryption 1.1's
// RSA-OAEP, decrypt through crewjam's registry; a tampered ciphertext, a
// short one and a key of the wrong size are errors, never a panic.
func TestXMLEncGCM(t *testing.T) {
	key, _, err := LoadKeyPair(readFile(t, "keys/sp.crt"), readFile(t, "keys/sp.key"))
	if err != nil {
		t.Fatal(err)
	}
	priv := key.(*rsa.PrivateKey)
	plain := []byte(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"/>`)
	for _, tc := range []struct {
		alg  string
		size int
	}{{algAES128GCM, 16}, {algAES192GCM, 24}, {algAES256GCM, 32}} {
		t.Run(tc.alg[strings.Index(tc.alg, "#")+1:], func(t *testing.T) {
			el := encryptedData(t, tc.alg, tc.size, &priv.PublicKey, plain)
			got, err := xmlenc.Decrypt(priv, el)
			if err != nil || string(got) != string(plain) {
				t.Fatalf("Decrypt = %q, %v", got, err)
			}

			cv := el.FindElement("./CipherData/CipherValue")
			data, _ := base64.StdEncoding.DecodeString(strings.ReplaceAll(cv.Text(), "\n", ""))
			data[len(data)-1] ^= 1
			cv.SetText(base64.StdEncoding.EncodeToString(data))
			if _, err := xmlenc.Decrypt(priv, el); err == nil {
				t.Error("a tampered tag decrypted")
			}
			cv.SetText(base64.StdEncoding.EncodeToString(data[:20]))
			if _, err := xmlenc.Decrypt(priv, el); err == nil || !strings.Contains(err.Error(), "shorter") {
				t.Errorf("short ciphertext: %v", err)
			}
			el.RemoveChild(el.FindElement("./KeyInfo"))
			if _, err := xmlenc.Decrypt(make([]byte, tc.size+8), el); !errors.As(err, new(xmlenc.ErrIncorrectKeyLength)) {
				t.Errorf("wrong key size: %v", err)
			}
		})
	}
}

// XML Encryption 1.1's RSA-OAEP refuses a digest or mask function it does
// not know, naming it, and a wrong label.
func TestXMLEncRSAOAEPParams(t *testing.T) {
	key, _, err := LoadKeyPair(readFile(t, "keys/sp.crt"), readFile(t, "keys/sp.key"))
	if err != nil {
		t.Fatal(err)
	}
	priv := key.(*rsa.PrivateKey)
	for _, tc := range []struct{ name, old, new, want string }{
		{"digest", "xmlenc#sha256", "xmlenc#ripemd160", "algorithm is not implemented: http://www.w3.org/2001/04/xmlenc#ripemd160"},
		{"mgf", "mgf1sha512", "mgf1md5", "algorithm is not implemented: http://www.w3.org/2009/xmlenc11#mgf1md5"},
		{"label", "OAEPparams>", "OAEPparams>AAAA", "decryption error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			el := encryptedData(t, algAES256GCM, 32, &priv.PublicKey, []byte("x"))
			doc := etree.NewDocument()
			doc.SetRoot(el)
			s, _ := doc.WriteToString()
			edited := etree.NewDocument()
			if err := edited.ReadFromString(strings.Replace(s, tc.old, tc.new, 1)); err != nil {
				t.Fatal(err)
			}
			_, err := xmlenc.Decrypt(priv, edited.Root())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzXMLEncGCM decrypts arbitrary EncryptedData with the AES-GCM
// decrypters: never a panic. Run: go test -run '^$' -fuzz FuzzXMLEncGCM ./saml/
func FuzzXMLEncGCM(f *testing.F) {
	f.Add(`<EncryptedData><CipherData><CipherValue>AAAA</CipherValue></CipherData></EncryptedData>`, uint8(32))
	f.Add(`<EncryptedData><CipherData><CipherValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</CipherValue></CipherData></EncryptedData>`, uint8(16))
	f.Add(`<EncryptedData><CipherData/></EncryptedData>`, uint8(24))
	f.Fuzz(func(t *testing.T, x string, size uint8) {
		doc := etree.NewDocument()
		if doc.ReadFromString(x) != nil || doc.Root() == nil {
			return
		}
		// The key transport is crewjam's or tested above: leave it out.
		for _, ki := range doc.Root().SelectElements("KeyInfo") {
			doc.Root().RemoveChild(ki)
		}
		for _, g := range []aesGCM{{16, algAES128GCM}, {24, algAES192GCM}, {32, algAES256GCM}} {
			if _, err := g.Decrypt(make([]byte, size%40), doc.Root()); err == nil && int(size%40) != g.keySize {
				t.Fatalf("%s decrypted with a %d-byte key", g.algorithm, size%40)
			}
		}
	})
}
