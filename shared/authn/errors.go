package authn

import "errors"

// ErrInvalidToken is matched (errors.Is) by every error Validate returns.
// Callers answer 401 and log the error; they never show its text to the
// client, since the reason helps an attacker more than a user.
var ErrInvalidToken = errors.New("authn: invalid token")

// ErrKeysUnavailable is additionally matched when the token could not be
// checked because the issuer's keys could not be fetched (an outage, not a
// bad token): worth an alert, still a 401.
var ErrKeysUnavailable = errors.New("authn: issuer keys unavailable")

// TokenError is the error Validate returns: a reason for logs.
type TokenError struct {
	Reason string
	cause  error
}

func (e *TokenError) Error() string { return "authn: invalid token: " + e.Reason }

// Is makes every TokenError match ErrInvalidToken.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

// Unwrap exposes the cause (for example ErrKeysUnavailable).
func (e *TokenError) Unwrap() error { return e.cause }

func invalid(reason string) error { return &TokenError{Reason: reason} }

func invalidCause(reason string, cause error) error {
	return &TokenError{Reason: reason + ": " + cause.Error(), cause: cause}
}
