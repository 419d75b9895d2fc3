package bundle

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

func TestSigningKeys(t *testing.T) {
	key := make([]byte, seal.KeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	s, err := seal.New(key)
	require.NoError(t, err)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)

	sealed := func(kid, status string, notAfter *time.Time, secret string) SealedKey {
		b, err := s.Seal([]byte(secret), []byte(kid))
		require.NoError(t, err)
		return SealedKey{BackendKey: model.BackendKey{KID: kid, Status: status, NotAfter: notAfter}, Sealed: b}
	}
	keys := []SealedKey{
		sealed("a", KeyActive, nil, "sa"),
		sealed("b", KeyRetiring, &future, "sb"),
		sealed("c", KeyRetiring, &past, "sc"),
		sealed("d", KeyRevoked, nil, "sd"),
		sealed("e", "unknown", nil, "se"),
	}
	got, err := SigningKeys(keys, s, now)
	require.NoError(t, err)
	require.Equal(t, []backendsig.Key{{KID: "a", Secret: []byte("sa")}, {KID: "b", Secret: []byte("sb")}}, got)

	// A secret sealed for one kid and relabelled as another does not open.
	moved := sealed("a", KeyActive, nil, "sa")
	moved.KID = "z"
	_, err = SigningKeys([]SealedKey{moved}, s, now)
	require.ErrorIs(t, err, seal.ErrOpen)
}
