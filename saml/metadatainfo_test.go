package saml

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseIdPMetadataInfo(t *testing.T) {
	data, err := os.ReadFile("testdata/idp-metadata.xml")
	require.NoError(t, err)
	info, err := ParseIdPMetadata(data, "")
	require.NoError(t, err)
	assert.NotEmpty(t, info.EntityID)
	assert.NotEmpty(t, info.SSOURL)
	require.NotEmpty(t, info.Certificates)
	assert.True(t, info.Certificates[0].NotAfter.After(info.Certificates[0].NotBefore))

	_, err = ParseIdPMetadata([]byte(`<!DOCTYPE x><EntityDescriptor/>`), "")
	assert.Error(t, err)
	_, err = ParseIdPMetadata([]byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`), "")
	assert.ErrorContains(t, err, "IDPSSODescriptor")
}

func FuzzParseIdPMetadataInfo(f *testing.F) {
	if data, err := os.ReadFile("testdata/idp-metadata.xml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`<EntityDescriptor entityID="x"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseIdPMetadata(data, "")
		if err == nil && (info.EntityID == "" || len(info.Certificates) == 0) {
			t.Fatalf("accepted metadata without entity ID or certificate: %+v", info)
		}
	})
}
