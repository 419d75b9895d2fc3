package bundle

import (
	"fmt"
	"time"

	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/seal"
)

// Backend key statuses (model.BackendKey.Status).
const (
	KeyActive   = "active"
	KeyRetiring = "retiring"
	KeyRevoked  = "revoked"
)

// SigningKeys opens the sealed backend keys of a global bundle into the keys a
// gateway signs forwarded requests with. Active and retiring keys both sign
// (during a rotation backends that know only one of them still accept);
// revoked keys and keys past NotAfter never do. A key that fails to open
// fails the whole call: a gateway must not quietly sign with fewer keys than
// the control plane intended.
func SigningKeys(keys []SealedKey, s *seal.Sealer, now time.Time) ([]backendsig.Key, error) {
	out := make([]backendsig.Key, 0, len(keys))
	for _, k := range keys {
		if k.Status != KeyActive && k.Status != KeyRetiring {
			continue
		}
		if k.NotAfter != nil && !now.Before(*k.NotAfter) {
			continue
		}
		secret, err := s.Open(k.Sealed, []byte(k.KID))
		if err != nil {
			return nil, fmt.Errorf("bundle: backend key %q: %w", k.KID, err)
		}
		out = append(out, backendsig.Key{KID: k.KID, Secret: secret})
	}
	return out, nil
}
