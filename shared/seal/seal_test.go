package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		_, err := New(make([]byte, n))
		require.ErrorIs(t, err, ErrKeySize, "len %d", n)
	}
	_, err := New(make([]byte, 32))
	require.NoError(t, err)
}

func TestParseKey(t *testing.T) {
	k := newKey(t)
	for name, s := range map[string]string{
		"std":     base64.StdEncoding.EncodeToString(k),
		"raw std": base64.RawStdEncoding.EncodeToString(k),
		"url":     base64.URLEncoding.EncodeToString(k),
		"raw url": base64.RawURLEncoding.EncodeToString(k),
		"spaces":  " " + base64.StdEncoding.EncodeToString(k) + "\n",
	} {
		got, err := ParseKey(s)
		require.NoError(t, err, name)
		require.Equal(t, k, got, name)
	}
	_, err := ParseKey(base64.StdEncoding.EncodeToString(k[:16]))
	require.ErrorIs(t, err, ErrKeySize)
	_, err = ParseKey("not base64 !!!")
	require.ErrorIs(t, err, ErrKeyEncoding)
	_, err = ParseKey("")
	require.Error(t, err)
}

func TestRoundTripAndTampering(t *testing.T) {
	s, err := New(newKey(t))
	require.NoError(t, err)
	other, err := New(newKey(t))
	require.NoError(t, err)

	pt := []byte("hmac secret for kid-1")
	aad := []byte("kid-1")
	sealed, err := s.Seal(pt, aad)
	require.NoError(t, err)
	require.False(t, bytes.Contains(sealed, pt), "plaintext visible in sealed value")

	got, err := s.Open(sealed, aad)
	require.NoError(t, err)
	require.Equal(t, pt, got)

	again, err := s.Seal(pt, aad)
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "nonce must be fresh per seal")

	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		aad    []byte
		want   error
	}{
		{"wrong aad", s, sealed, []byte("kid-2"), ErrOpen},
		{"nil aad", s, sealed, nil, ErrOpen},
		{"wrong key", other, sealed, aad, ErrOpen},
		{"tampered nonce", s, flip(1), aad, ErrOpen},
		{"tampered ciphertext", s, flip(1 + nonceSize), aad, ErrOpen},
		{"tampered tag", s, flip(len(sealed) - 1), aad, ErrOpen},
		{"tampered version", s, flip(0), aad, ErrBadVersion},
		{"truncated", s, sealed[:len(sealed)-1], aad, ErrOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open(tc.sealed, tc.aad)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, got)
		})
	}
}

func TestEmptyPlaintext(t *testing.T) {
	s, err := New(newKey(t))
	require.NoError(t, err)
	sealed, err := s.Seal(nil, nil)
	require.NoError(t, err)
	got, err := s.Open(sealed, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestShortInputNeverPanics(t *testing.T) {
	s, err := New(newKey(t))
	require.NoError(t, err)
	for n := 0; n < overhead; n++ {
		buf := make([]byte, n)
		if n > 0 {
			buf[0] = version1
		}
		_, err := s.Open(buf, nil)
		require.ErrorIs(t, err, ErrShort, "len %d", n)
	}
}

func FuzzOpen(f *testing.F) {
	key := make([]byte, KeySize)
	s, err := New(key)
	if err != nil {
		f.Fatal(err)
	}
	good, err := s.Seal([]byte("x"), []byte("a"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, []byte("a"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{version1}, []byte("a"))
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		_, _ = s.Open(sealed, aad)
	})
}
