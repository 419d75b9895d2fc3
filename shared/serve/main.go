package serve

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of Main.
const (
	ExitOK     = 0 // clean shutdown after a signal
	ExitFailed = 1 // could not start, or stopped with an error
	ExitConfig = 2 // invalid configuration
)

// Config is what Main needs of a plane's configuration.
type Config interface {
	Verify() error
}

// Runner is a built server: Run serves until its context ends.
type Runner interface {
	Run(ctx context.Context) error
}

// Command is one plane's binary.
type Command[C Config] struct {
	// FromEnv reads the configuration through getenv (os.Getenv).
	FromEnv func(getenv func(string) string) (C, error)
	// LogLevel is the configured log level.
	LogLevel func(C) slog.Level
	// New builds the server; Main then runs it.
	New func(ctx context.Context, cfg C, logger *slog.Logger) (Runner, error)
}

// Main runs cmd until SIGINT or SIGTERM, logging JSON to stderr, and returns
// the process exit code (ExitOK, ExitFailed or ExitConfig).
func Main[C Config](cmd Command[C]) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd.run(ctx, os.Stderr, os.Getenv)
}

func (cmd Command[C]) run(ctx context.Context, stderr io.Writer, getenv func(string) string) int {
	level := new(slog.LevelVar)
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := cmd.FromEnv(getenv)
	if err == nil {
		err = cfg.Verify()
	}
	if err != nil {
		logger.Error("invalid configuration", "err", err)
		return ExitConfig
	}
	level.Set(cmd.LogLevel(cfg))
	srv, err := cmd.New(ctx, cfg, logger)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return ExitFailed
	}
	if err := srv.Run(ctx); err != nil {
		logger.Error("stopped with error", "err", err)
		return ExitFailed
	}
	return ExitOK
}
