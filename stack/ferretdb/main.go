// Command ferretdb runs an embedded FerretDB v1 for the local stack, on its SQLite backend
// (files under -sqlite-dir) or its PostgreSQL one (the database at -postgresql-url).
//
// It embeds the ferretdb package instead of building cmd/ferretdb, whose binary panics when
// built outside FerretDB's own tree (it expects a generated version file).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// gcPercent trades about 100 MB more peak memory under bulk inserts for ~10% more throughput.
const gcPercent = 400

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	dataDir := flag.String("sqlite-dir", "data/ferretdb", "directory for the SQLite database files")
	// FerretDB opens its pool on the first command and retries on the next one, so it may
	// start before PostgreSQL answers.
	pgURL := flag.String("postgresql-url", "", "PostgreSQL database URL for -handler postgresql")
	// Not warn: FerretDB logs every unsupported command as a multi-line WARN, and pymongo
	// sends one (endSessions) each time a client closes. Clients see such errors anyway.
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	flag.Parse()

	if err := run(*listen, *handler, *dataDir, *pgURL, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, handler, dataDir, pgURL, logLevel string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}
	// FerretDB's SQL layer calls Logger.With(query args) for every statement, even when debug
	// is off; slog's TextHandler formats those attributes eagerly, which quoted every inserted
	// document once more and cost about a quarter of insert throughput. lazyHandler defers
	// that work to records that are actually logged.
	logger := slog.New(lazyHandler{inner: slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: level})})

	// The live heap is small (metadata) while each insert batch makes a lot of short-lived
	// garbage, so collect less often than Go's default of 100 unless GOGC says otherwise.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}

	config := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: listen}, Logger: logger, Handler: handler}
	var serves string
	switch handler {
	case "sqlite":
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return err
		}
		if err = os.MkdirAll(abs, 0o755); err != nil {
			return err
		}
		// The SQLite handler wants a directory URI that ends with a slash.
		config.SQLiteURL = "file:" + abs + "/"
		serves = "data in " + abs
	case "postgresql":
		if pgURL == "" {
			return fmt.Errorf("-handler postgresql needs -postgresql-url")
		}
		config.PostgreSQLURL = pgURL
		serves = "data in PostgreSQL at " + redacted(pgURL)
	default:
		return fmt.Errorf("bad -handler %q: sqlite or postgresql", handler)
	}

	f, err := ferretdb.New(config)
	if err != nil {
		return err
	}

	// SIGTERM from `squidstream stack down` ends Run cleanly, which closes the SQLite files
	// or the PostgreSQL connections.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// Printed whatever the level, so the log always shows what this process serves.
	fmt.Printf("ferretdb (embedded v1, %s) listening on %s, %s\n", handler, listen, serves)
	return f.Run(ctx)
}

// redacted is the URL without its password, for the log.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// lazyHandler defers WithAttrs and WithGroup until a record is actually handled, so loggers
// derived with With cost nothing for records below the level.
type lazyHandler struct {
	inner slog.Handler
	ops   []func(slog.Handler) slog.Handler
}

func (h lazyHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	inner := h.inner
	for _, op := range h.ops {
		inner = op(inner)
	}
	return inner.Handle(ctx, r)
}

func (h lazyHandler) with(op func(slog.Handler) slog.Handler) lazyHandler {
	ops := make([]func(slog.Handler) slog.Handler, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return lazyHandler{inner: h.inner, ops: append(ops, op)}
}

func (h lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(func(in slog.Handler) slog.Handler { return in.WithAttrs(attrs) })
}

func (h lazyHandler) WithGroup(name string) slog.Handler {
	return h.with(func(in slog.Handler) slog.Handler { return in.WithGroup(name) })
}
