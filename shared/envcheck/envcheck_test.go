package envcheck

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/authn"
)

func TestNATSURL(t *testing.T) {
	require.NoError(t, NATSURL("X", "nats://a:4222, tls://b:4222,ws://c,wss://d"))
	require.ErrorContains(t, NATSURL("X", "http://a:4222"), `scheme "http"`)
	err := NATSURL("X", "nats://user:s3cret@%zz")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret", "a credential is never echoed")
	require.Error(t, NATSURL("X", "localhost"))
}

func TestIssuers(t *testing.T) {
	ok := authn.IssuerConfig{Issuer: "https://idp.example.com", Audiences: []string{"a"}}
	assert.Empty(t, Issuers("X", []authn.IssuerConfig{ok}, "nobody signs in", true))
	assert.Len(t, Issuers("X", nil, "nobody signs in", false), 1)
	noAud := authn.IssuerConfig{Issuer: "https://other.example.com"}
	assert.Len(t, Issuers("X", []authn.IssuerConfig{noAud}, "", true), 1)
	assert.Empty(t, Issuers("X", []authn.IssuerConfig{noAud}, "", false))
	assert.Len(t, Issuers("X", []authn.IssuerConfig{ok, ok}, "", true), 1, "listed twice")
	assert.Len(t, Issuers("X", []authn.IssuerConfig{{Issuer: "ftp://x"}}, "", false), 1)
}
