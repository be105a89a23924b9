package devserver

import (
	"strings"
	"testing"
	"time"
)

// A PostgreSQL URL becomes the two data stores the way Temporal's own configuration names them, and a bad one is
// refused without the password in the error.
func TestPostgresStores(t *testing.T) {
	main, vis, err := PostgresStores("postgres://temporal:s3cr%2Ft@db.example:6432/prod?sslmode=verify-full&sslrootcert=/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	if main.PluginName != "postgres12_pgx" || main.ConnectAddr != "db.example:6432" || main.User != "temporal" ||
		main.Password != "s3cr/t" || main.DatabaseName != "prod" || vis.DatabaseName != "prod_visibility" ||
		main.ConnectAttributes["sslmode"] != "verify-full" || vis.ConnectAttributes["sslrootcert"] != "/ca.pem" ||
		main.MaxConnLifetime != time.Hour {
		t.Fatalf("main %+v, visibility %+v", main, vis)
	}
	main, _, err = PostgresStores("postgresql://u@localhost")
	if err != nil || main.ConnectAddr != "localhost:5432" || main.DatabaseName != "temporal" || main.Password != "" {
		t.Fatalf("defaults: %+v, %v", main, err)
	}
	for _, bad := range []string{"postgres://u:hunter2@db:notaport/x", "mysql://u:hunter2@db/x",
		"postgres://u:hunter2@/x", "postgres://u:hunter2@db/x?sslmode=a&sslmode=b", "host=db password=hunter2"} {
		_, _, err := PostgresStores(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error repeats the password: %v", err)
		}
	}
}
