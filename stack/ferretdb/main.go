// Command ferretdb runs an embedded FerretDB v1 on its SQLite backend for the local stack.
//
// It embeds the ferretdb package instead of building cmd/ferretdb, whose binary panics when
// built outside FerretDB's own tree (it expects a generated version file).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("sqlite-dir", "data/ferretdb", "directory for the SQLite database files")
	// Not warn: FerretDB logs every unsupported command as a multi-line WARN, and pymongo
	// sends one (endSessions) each time a client closes. Clients see such errors anyway.
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	flag.Parse()

	if err := run(*listen, *dataDir, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, dataDir, logLevel string) error {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(abs, 0o755); err != nil {
		return err
	}

	var level slog.Level
	if err = level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: level}))

	// The SQLite handler wants a directory URI that ends with a slash.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return err
	}

	// SIGTERM from `squidstream stack down` ends Run cleanly, which closes the SQLite files.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// Printed whatever the level, so the log always shows what this process serves.
	fmt.Printf("ferretdb (embedded v1, sqlite) listening on %s, data in %s\n", listen, abs)
	return f.Run(ctx)
}
