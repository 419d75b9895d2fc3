package serve

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

type fakeConfig struct {
	verifyErr error
	level     slog.Level
}

func (c fakeConfig) Verify() error { return c.verifyErr }

type fakeServer struct {
	runErr error
	log    *slog.Logger
	ran    bool
}

func (s *fakeServer) Run(context.Context) error {
	s.ran = true
	s.log.Debug("debug line")
	return s.runErr
}

func TestCommandExitCodes(t *testing.T) {
	tests := []struct {
		name            string
		cfg             fakeConfig
		envErr, newErr  error
		runErr          error
		want            int
		wantRan         bool
		wantLog, notLog string
	}{
		{name: "clean shutdown", want: ExitOK, wantRan: true, notLog: "debug line"},
		{name: "configured log level applies", cfg: fakeConfig{level: slog.LevelDebug}, want: ExitOK, wantRan: true, wantLog: "debug line"},
		{name: "environment unreadable", envErr: errBoom, want: ExitConfig, wantLog: "invalid configuration"},
		{name: "configuration invalid", cfg: fakeConfig{verifyErr: errBoom}, want: ExitConfig, wantLog: "invalid configuration"},
		{name: "cannot start", newErr: errBoom, want: ExitFailed, wantLog: "cannot start"},
		{name: "stops with an error", runErr: errBoom, want: ExitFailed, wantRan: true, wantLog: "stopped with error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &fakeServer{runErr: tt.runErr}
			var gotEnv string
			cmd := Command[fakeConfig]{
				FromEnv: func(getenv func(string) string) (fakeConfig, error) {
					gotEnv = getenv("PORTCULLIS_X")
					return tt.cfg, tt.envErr
				},
				LogLevel: func(c fakeConfig) slog.Level { return c.level },
				New: func(_ context.Context, _ fakeConfig, logger *slog.Logger) (Runner, error) {
					if tt.newErr != nil {
						return nil, tt.newErr
					}
					srv.log = logger
					return srv, nil
				},
			}
			var stderr bytes.Buffer
			got := cmd.run(context.Background(), &stderr, func(k string) string { return "v-" + k })
			require.Equal(t, tt.want, got)
			require.Equal(t, "v-PORTCULLIS_X", gotEnv, "the configuration is read through getenv")
			require.Equal(t, tt.wantRan, srv.ran)
			if tt.wantLog != "" {
				require.Contains(t, stderr.String(), tt.wantLog)
			}
			if tt.notLog != "" {
				require.NotContains(t, stderr.String(), tt.notLog)
			}
			if tt.want != ExitOK {
				require.Contains(t, stderr.String(), errBoom.Error(), "the cause is logged")
			}
		})
	}
}
