package settings_test

import (
	"encoding/json"
	"fmt"

	"github.com/rollcall/rollcall/settings"
)

// A tenant's admin turns SCIM on with group sync while a SAML connection
// syncs groups too: the one validation names both. The client secret is
// written, and never read back.
func Example() {
	s := settings.Settings{
		SAML: []settings.SAML{{
			Name: "entra", IdPMetadataURL: "https://login.microsoftonline.com/t/federationmetadata.xml",
			EntityID: "https://app.example/acme", ACSURL: "https://app.example/t/acme/saml/entra/acs", SyncGroups: true,
		}},
		OAuth: []settings.OAuth{{
			Name: "google", Kind: settings.KindGoogle, ClientID: "client-id",
			ClientSecret: settings.NewSecret([]byte("s3cret")), RedirectURL: "https://app.example/t/acme/oauth/google/callback",
		}},
		SCIM: &settings.SCIM{Enabled: true, SyncGroups: true},
	}
	fmt.Println(s.Validate())

	s.SCIM.SyncGroups = false
	fmt.Println(s.Validate(), s.GroupSource())

	b, _ := json.Marshal(s.OAuth[0].ClientSecret)
	fmt.Println(string(b))
	// Output:
	// invalid input: groupSource: only one group source per tenant: "scim" (scim.syncGroups) and "saml:entra" (saml[0].syncGroups) both sync groups
	// <nil> saml:entra
	// {"set":true}
}
