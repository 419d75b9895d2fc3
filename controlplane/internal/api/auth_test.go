package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

// TestUnsetAccessIsRefused: a route that names no access level fails closed,
// even for a platform admin, instead of being public.
func TestUnsetAccessIsRefused(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	c.Set(callerKey, caller{platform: true})
	called := false
	err := (&server{}).authorize(unset)(func(echo.Context) error { called = true; return nil })(c)
	var ae *Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, CodeForbidden, ae.Code)
	require.False(t, called)
	require.NotEqual(t, unset, public, "the zero access level must not be public")
}
