package devserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// sqlitePersistence is the SQLite store: in memory, or in opts.DataFile with its schema and namespace created
// directly in the file.
func sqlitePersistence(opts Options) (config.Persistence, error) {
	sqlCfg := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{},
		DatabaseName:      opts.DataFile,
	}
	if opts.DataFile == "" {
		// A shared in-memory database needs a name unique to this process and server; the SQLite plugin
		// creates the schema itself in memory mode.
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
		sqlCfg.DatabaseName = fmt.Sprintf("devserver-%d-%d", os.Getpid(), time.Now().UnixNano())
	} else {
		sqlCfg.ConnectAttributes["mode"] = "rwc"
		sqlCfg.ConnectAttributes["journal_mode"] = "wal"
		sqlCfg.ConnectAttributes["synchronous"] = "normal"
		sqlCfg.ConnectAttributes["busy_timeout"] = "10000"
		if err := os.MkdirAll(filepath.Dir(opts.DataFile), 0o755); err != nil {
			return config.Persistence{}, fmt.Errorf("data folder: %w", err)
		}
		if _, statErr := os.Stat(opts.DataFile); errors.Is(statErr, os.ErrNotExist) {
			if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
				return config.Persistence{}, fmt.Errorf("set up schema in %s: %w", opts.DataFile, err)
			}
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, nil)
	if err != nil {
		return config.Persistence{}, err
	}
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return config.Persistence{}, fmt.Errorf("create namespace %q: %w", opts.Namespace, err)
	}
	return config.Persistence{
		DefaultStore:     sqliteplugin.PluginName,
		VisibilityStore:  sqliteplugin.PluginName,
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
	}, nil
}
