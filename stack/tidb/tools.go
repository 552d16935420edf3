//go:build tools

// Package tools only records, for `go mod tidy`, that this module needs
// github.com/pingcap/tidb/cmd/tidb-server. It is never compiled (build tag
// "tools"); build.sh builds the command with
// `go build github.com/pingcap/tidb/cmd/tidb-server`.
package tools

import (
	_ "github.com/pingcap/tidb/cmd/tidb-server"
)
