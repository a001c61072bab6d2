// make.js writes the IdP metadata and the SAML responses of this folder with
// samlify 2.13.1 used as an IdP library. Run it through gen.sh.
//
// Every time is pinned to T (identitytest.Epoch); every ID is fixed. Each
// response is built from one template (below) that samlify signs, encrypts,
// or both, exactly as it would for a real SP: samlify's customTagReplacement
// hands it the whole Response, which it then signs with xml-crypto and
// encrypts with xml-encryption.
'use strict';
const fs = require('fs');
const path = require('path');
const saml = require('samlify');

const dir = process.argv[2];
const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');

// Schema validation is the SP's business; samlify insists on a validator.
saml.setSchemaValidator({ validate: () => Promise.resolve('skipped') });

const T = new Date('2026-01-02T03:04:05Z');
const at = (seconds) => new Date(T.getTime() + seconds * 1000).toISOString().replace('.000Z', 'Z');

const IDP = 'https://idp.example.test/metadata';
const SSO = 'https://idp.example.test/sso';
const SP = 'https://sp.example.test/saml/acme/metadata';
const ACS = 'https://sp.example.test/saml/acme/acs';
const REQUEST = 'id-request-1'; // the AuthnRequest ID the tests mark pending

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const NAMEID = {
	persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
	transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
	email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
};
const CLAIMS = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/';
const MSCLAIMS = 'http://schemas.microsoft.com/identity/claims/';

// idp is the IdP; encrypt is false, true (samlify's default: AES-256-CBC,
// the key wrapped with RSA-OAEP-MGF1P) or the URI of the data algorithm.
function idp(sigAlg, encrypt, key) {
	const data = typeof encrypt === 'string' ? { dataEncryptionAlgorithm: encrypt } : {};
	return saml.IdentityProvider({
		entityID: IDP,
		privateKey: read(`keys/${key || 'idp'}.key`),
		signingCert: read(`keys/${key || 'idp'}.crt`),
		isAssertionEncrypted: !!encrypt,
		...data,
		requestSignatureAlgorithm: sigAlg || RSA_SHA256,
		singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: SSO }],
		nameIDFormat: [NAMEID.persistent],
	});
}

function sp(signing) {
	return saml.ServiceProvider({
		entityID: SP,
		wantAssertionsSigned: signing === 'assertion' || signing === 'both',
		wantMessageSigned: signing === 'response' || signing === 'both',
		encryptCert: read('keys/sp.crt'),
		assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: ACS }],
	});
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function attribute(name, values, friendly) {
	const fn = friendly ? ` FriendlyName="${esc(friendly)}"` : '';
	return `<saml:Attribute Name="${esc(name)}"${fn} NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">` +
		values.map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('') +
		'</saml:Attribute>';
}

// Entra ID's claim names, and memberOf with three values in a second
// AttributeStatement: an AD DN whose CN holds an escaped comma, another DN,
// and a plain name.
const ENTRA = [
	[
		[CLAIMS + 'emailaddress', ['jane.doe@example.test']],
		[CLAIMS + 'name', ['jane.doe@example.test']],
		[CLAIMS + 'givenname', ['Jane']],
		[CLAIMS + 'surname', ['Doe']],
		[MSCLAIMS + 'displayname', ['Jane Doe']],
		[MSCLAIMS + 'objectidentifier', ['6f1c2b9e-0d6a-4d5e-9a7b-2f8c1e3d4a5b']],
	],
	[
		['memberOf', ['CN=Smith\\, John,OU=Groups,DC=example,DC=test', 'CN=Desk Admins,OU=Groups,DC=example,DC=test', 'Berlin Office']],
		['urn:oid:2.5.4.11', ['Facilities'], 'department'],
	],
];

// AD FS's claim names, groups as an LDAP array.
const ADFS = [[
	[CLAIMS + 'upn', ['john.smith@corp.example.test']],
	[CLAIMS + 'emailaddress', ['john.smith@example.test']],
	[CLAIMS + 'givenname', ['John']],
	[CLAIMS + 'surname', ['Smith']],
	['http://schemas.xmlsoap.org/claims/Group', ['CN=Smith\\, John,OU=Groups,DC=example,DC=test', 'CN=Desk Admins,OU=Groups,DC=example,DC=test']],
]];

// Entra ID when a user is in more groups than a token may carry: no groups
// claim, a link to the Graph API instead.
const OVERAGE = [[
	[CLAIMS + 'emailaddress', ['jane.doe@example.test']],
	[CLAIMS + 'name', ['jane.doe@example.test']],
	['http://schemas.microsoft.com/claims/groups.link', ['https://graph.windows.net/tenant/users/6f1c2b9e/getMemberObjects']],
]];

function response(o) {
	const id = o.id;
	const irt = o.inResponseTo === null ? '' : ` InResponseTo="${o.inResponseTo || REQUEST}"`;
	const t0 = o.offset || 0;
	const subject = o.noSubject ? '' :
		'<saml:Subject>' + (o.noNameID ? '' : `<saml:NameID Format="${o.nameIDFormat || NAMEID.persistent}">${esc(o.nameID || 'jane-persistent-7f3a')}</saml:NameID>`) +
		`<saml:SubjectConfirmation Method="${o.method || 'urn:oasis:names:tc:SAML:2.0:cm:bearer'}"><saml:SubjectConfirmationData NotOnOrAfter="${at(t0 + 300)}" Recipient="${o.recipient || ACS}"${irt}/></saml:SubjectConfirmation></saml:Subject>`;
	const audience = o.noAudience ? '' : `<saml:AudienceRestriction><saml:Audience>${o.audience || SP}</saml:Audience></saml:AudienceRestriction>`;
	const conditions = o.noConditions ? '' : `<saml:Conditions NotBefore="${at(t0 - 60)}" NotOnOrAfter="${at(t0 + 300)}">${audience}</saml:Conditions>`;
	const statements = (o.attrs || ENTRA).map((st) => '<saml:AttributeStatement>' + st.map((a) => attribute(...a)).join('') + '</saml:AttributeStatement>').join('');
	return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp-${id}" Version="2.0" IssueInstant="${at(t0)}" Destination="${ACS}"${irt}>` +
		`<saml:Issuer>${IDP}</saml:Issuer>` +
		'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>' +
		`<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_assert-${id}" Version="2.0" IssueInstant="${at(t0)}">` +
		`<saml:Issuer>${IDP}</saml:Issuer>` + subject + conditions +
		`<saml:AuthnStatement AuthnInstant="${at(t0 - 5)}" SessionNotOnOrAfter="${at(t0 + 8 * 3600)}" SessionIndex="_session-${id}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
		statements + '</saml:Assertion></samlp:Response>';
}

// Each fixture: the file name, how it is signed, and the template's options.
const fixtures = [
	['response-signed', 'response', {}],
	['assertion-signed', 'assertion', {}],
	['both-signed', 'both', {}],
	['encrypted', 'both', { encrypt: true }],
	['encrypted-aes128-gcm', 'both', { encrypt: 'http://www.w3.org/2009/xmlenc11#aes128-gcm' }],
	['encrypted-aes256-gcm', 'both', { encrypt: 'http://www.w3.org/2009/xmlenc11#aes256-gcm' }],
	['idp-initiated', 'both', { inResponseTo: null }],
	['sha1', 'both', { sigAlg: RSA_SHA1 }],
	['expired', 'both', { offset: -7200 }],
	['wrong-recipient', 'both', { recipient: 'https://evil.example.test/acs' }],
	['wrong-audience', 'both', { audience: 'https://other.example.test/metadata' }],
	['no-audience', 'both', { noAudience: true }],
	['no-bearer', 'both', { method: 'urn:oasis:names:tc:SAML:2.0:cm:holder-of-key' }],
	['no-subject', 'assertion', { noSubject: true }],
	['no-conditions', 'assertion', { noConditions: true }],
	['transient', 'both', { nameIDFormat: NAMEID.transient, nameID: '_transient-91e0c4' }],
	['adfs', 'both', { attrs: ADFS, nameID: 'john-persistent-2b1d' }],
	// AD FS with no claim rule issuing a Name ID: a Subject without NameID.
	['adfs-no-nameid', 'both', { attrs: ADFS, noNameID: true }],
	['adfs-idp-initiated', 'both', { attrs: ADFS, nameID: 'john-persistent-2b1d', inResponseTo: null }],
	['entra-overage', 'both', { attrs: OVERAGE }],
	['other-idp', 'both', { key: 'idp2' }],
];

async function main() {
	fs.writeFileSync(path.join(dir, 'idp-metadata.xml'), idp().getMetadata() + '\n');
	fs.writeFileSync(path.join(dir, 'idp2-metadata.xml'), idp(null, false, 'idp2').getMetadata() + '\n');
	for (const [name, signing, o] of fixtures) {
		const xml = response({ id: name, ...o });
		const res = await idp(o.sigAlg, o.encrypt, o.key).createLoginResponse(sp(signing), null, 'post', {}, {
			customTagReplacement: () => ({ id: '_resp-' + name, context: xml }),
			encryptThenSign: !!o.encrypt,
		});
		const out = Buffer.from(res.context, 'base64').toString('utf8');
		fs.writeFileSync(path.join(dir, 'responses', name + '.xml'), out + '\n');
	}
}

main().catch((e) => { console.error(e); process.exit(1); });
