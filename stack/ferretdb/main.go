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
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()

	if err := run(*listen, *dataDir, *debug); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, dataDir string, debug bool) error {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(abs, 0o755); err != nil {
		return err
	}

	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
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

	logger.Info("ferretdb starting", "listen", listen, "sqlite_dir", abs)
	return f.Run(ctx)
}
