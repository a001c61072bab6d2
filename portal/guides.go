package portal

// guide tells an admin how to set up one IdP: where to click and what to
// paste. The steps are fixed text.
type guide struct {
	ID, Name string
	Preset   string // the settings.SAML preset, for a SAML IdP
	Kind     string // the settings.OAuth kind, for an OAuth provider
	Format   string // the group format the IdP sends
	Steps    []string
}

// samlGuides are the SAML IdPs the SSO page guides through, in menu order.
var samlGuides = []guide{
	{ID: "entra", Name: "Microsoft Entra ID", Preset: "entra", Format: "list", Steps: []string{
		"In the Entra admin center open Enterprise applications, New application, Create your own application (non-gallery).",
		"Under Single sign-on choose SAML. In Basic SAML Configuration paste the Entity ID as Identifier and the ACS URL as Reply URL.",
		"Under SAML Certificates copy the App Federation Metadata Url, or download the Federation Metadata XML, and give it below.",
		"To send groups, add a group claim (Attributes & Claims, Add a group claim); Entra sends group object IDs unless you choose names.",
	}},
	{ID: "adfs", Name: "AD FS", Preset: "adfs", Format: "dn", Steps: []string{
		"In AD FS Management add a Relying Party Trust, Claims aware, and import the SP metadata URL below (or enter the values by hand).",
		"Add claim rules: Send LDAP Attributes as Claims (E-Mail-Addresses, Given-Name, Surname, Token-Groups as DN), and a NameID rule.",
		"Give the IdP metadata below: https://<your AD FS host>/FederationMetadata/2007-06/FederationMetadata.xml.",
		"AD FS sends groups as LDAP distinguished names: choose the DN format for group sync.",
	}},
	{ID: "google", Name: "Google Workspace", Preset: "google", Format: "list", Steps: []string{
		"In the Google Admin console open Apps, Web and mobile apps, Add app, Add custom SAML app.",
		"Download the IdP metadata on the second step and upload it below.",
		"Paste the ACS URL and the Entity ID; Name ID format EMAIL, Name ID Basic Information > Primary email.",
		"Map firstName, lastName; for groups add Group membership and name the groups to send.",
	}},
	{ID: "keycloak", Name: "Keycloak", Preset: "keycloak", Format: "list", Steps: []string{
		"In your realm create a Client of type SAML with the Entity ID below as Client ID.",
		"Set Valid redirect URIs and the Master SAML Processing URL to the ACS URL.",
		"Add mappers for email, firstName, lastName and a Group list mapper (turn Full group path off for plain names).",
		"The IdP metadata is at https://<host>/realms/<realm>/protocol/saml/descriptor.",
	}},
	{ID: "okta", Name: "Okta", Preset: "okta", Format: "list", Steps: []string{
		"In the Okta admin console open Applications, Create App Integration, SAML 2.0.",
		"Paste the ACS URL as Single sign-on URL and the Entity ID as Audience URI; Name ID format EmailAddress.",
		"Add attribute statements email, firstName, lastName, and a group attribute statement named groups (filter: Matches regex .*).",
		"Copy the Metadata URL from the Sign On tab and give it below.",
	}},
	{ID: "akamai", Name: "Akamai EAA", Preset: "akamai", Format: "list", Steps: []string{
		"In Enterprise Application Access add a SAML application, with the Entity ID and ACS URL below.",
		"Send email, first name, last name and groups as attributes.",
		"Download the IdP metadata of the application and upload it below.",
	}},
	{ID: "ping", Name: "Ping Identity", Preset: "ping", Format: "list", Steps: []string{
		"In PingOne (or PingFederate) add a SAML application; import the SP metadata URL below, or paste the ACS URL and Entity ID.",
		"Map the attributes email, given name, family name, and memberOf for groups.",
		"Copy the IdP metadata URL of the application and give it below.",
	}},
	{ID: "generic", Name: "Any SAML 2.0 IdP", Preset: "", Format: "", Steps: []string{
		"Register a SAML 2.0 service provider with the Entity ID, the ACS URL (HTTP-POST binding), or import the SP metadata URL.",
		"Send a persistent NameID or the email, and the attributes email, givenName, sn and groups if you sync groups.",
		"Give the IdP's metadata below, by URL or as a file.",
	}},
}

// oauthGuides are the OAuth providers the SSO page guides through.
var oauthGuides = []guide{
	{ID: "google", Name: "Google", Kind: "google", Steps: []string{
		"In the Google Cloud console open APIs & Services, Credentials, Create credentials, OAuth client ID, Web application.",
		"Add the redirect URL below as an Authorized redirect URI; copy the client ID and secret here.",
	}},
	{ID: "microsoft", Name: "Microsoft 365", Kind: "microsoft", Steps: []string{
		"In the Entra admin center open App registrations, New registration, platform Web, with the redirect URL below.",
		"Under Certificates & secrets make a client secret; give the client ID, the secret and your directory (tenant) ID here.",
	}},
	{ID: "webex", Name: "Webex", Kind: "webex", Steps: []string{
		"In the Webex developer portal create an Integration with the redirect URL below and the scopes openid email profile.",
		"Copy the client ID and secret here.",
	}},
	{ID: "oidc", Name: "Any OpenID Connect provider", Kind: "oidc", Steps: []string{
		"Register a confidential web client with the redirect URL below, and the scopes openid email profile.",
		"Give the issuer URL (its /.well-known/openid-configuration is read), the client ID and the secret here.",
	}},
}

func findGuide(list []guide, id string) guide {
	for _, g := range list {
		if g.ID == id {
			return g
		}
	}
	return list[len(list)-1]
}

// guideOfPreset returns the SAML guide of a preset.
func guideOfPreset(preset string) guide {
	for _, g := range samlGuides {
		if g.Preset == preset {
			return g
		}
	}
	return samlGuides[len(samlGuides)-1]
}
