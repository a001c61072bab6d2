package settings

// SealValue seals one value that lives outside a Settings (a webhook
// endpoint's signing secret, say) as the settings' secrets are sealed:
// AES-256-GCM under the primary key, "v1:<key ID>:<base64url>", with aad as
// additional data, so that a value copied to another place named by another
// aad does not open.
func (k *Keyring) SealValue(aad string, plain []byte) (string, error) { return k.seal(aad, plain) }

// OpenValue opens a value of SealValue sealed with the same aad by any key
// of the keyring. An error matches ErrSealed.
func (k *Keyring) OpenValue(aad, sealed string) ([]byte, error) {
	v, _, err := k.open(aad, sealed)
	return v, err
}
