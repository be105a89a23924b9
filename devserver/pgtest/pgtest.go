// Package pgtest gives a test a PostgreSQL database for the embedded Temporal server: on the server that
// NEXSALTO_TEST_POSTGRES names, or in a throwaway cluster it starts from the PostgreSQL binaries installed on the
// machine. Without either the test skips, unless NEXSALTO_REQUIRE_POSTGRES=1 (CI), where it fails.
package pgtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"go.temporal.io/server/common/log"
	sqltool "go.temporal.io/server/tools/sql"

	"github.com/nexsalto/nexsalto/devserver"
)

const (
	// EnvDSN names a PostgreSQL server to use instead of a throwaway cluster: a URL whose role may create
	// databases (each test creates its own two and drops them at the end).
	EnvDSN = "NEXSALTO_TEST_POSTGRES"
	// EnvRequire makes a missing PostgreSQL a failure instead of a skip.
	EnvRequire = "NEXSALTO_REQUIRE_POSTGRES"
	// EnvBin is the folder of initdb and pg_ctl, when neither PATH nor Debian's /usr/lib/postgresql has them.
	EnvBin = "NEXSALTO_POSTGRES_BIN"
)

// DSN returns the URL of a database of this test's own (not created yet: the embedded server's set-up creates
// it), on the server of EnvDSN or on a throwaway cluster that is stopped and deleted when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return ownDatabase(t, dsn)
	}
	bin, err := binaries()
	if err != nil {
		unavailable(t, err.Error())
	}
	return startCluster(t, bin)
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	msg := "PostgreSQL not available (" + why + "): set " + EnvDSN + " to a server's URL, or install the " +
		"PostgreSQL server (Debian: apt-get install postgresql)"
	if os.Getenv(EnvRequire) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// ownDatabase points dsn at a database named for this test, and drops it and its visibility twin at the end.
func ownDatabase(t testing.TB, dsn string) string {
	t.Helper()
	admin, _, err := devserver.PostgresStores(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err) // never the URL itself: it holds the password
	}
	u, _ := url.Parse(dsn) // parsed above
	name := "nexsalto_test_" + randomHex(t, 6)
	u.Path = "/" + name
	t.Cleanup(func() {
		admin.DatabaseName = "postgres"
		conn, err := sqltool.NewConnection(admin, log.NewNoopLogger())
		if err != nil {
			t.Errorf("drop test databases: %v", err)
			return
		}
		defer conn.Close()
		for _, db := range []string{name, name + devserver.VisibilitySuffix} {
			// FORCE: the stopped server's connection pools may still be closing.
			if err := conn.Exec(`DROP DATABASE IF EXISTS "` + db + `" WITH (FORCE)`); err != nil {
				t.Errorf("drop database %s: %v", db, err)
			}
		}
	})
	return u.String()
}

// binaries finds initdb and pg_ctl: EnvBin, PATH, then the newest of Debian's versioned folders (Debian keeps
// them off PATH).
func binaries() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", fmt.Errorf("no initdb on PATH or in /usr/lib/postgresql, and %s unset", EnvDSN)
	}
	version := func(p string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return v
	}
	slices.SortFunc(found, func(a, b string) int { return version(a) - version(b) })
	return filepath.Dir(found[len(found)-1]), nil
}

// startCluster runs initdb and pg_ctl start in a fresh folder, the server listening on a free loopback port
// (and on a socket in that folder, not in the shared /var/run/postgresql). PostgreSQL refuses to run as root,
// so as root both run as the postgres user that Debian's package creates, through runuser.
func startCluster(t testing.TB, bin string) string {
	t.Helper()
	var asUser []string
	var owner *user.User
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "running as root, and no postgres user to run the server as")
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			unavailable(t, "running as root, and no runuser to run the server as the postgres user")
		}
		asUser, owner = []string{runuser, "-u", "postgres", "--"}, u
	}
	// Not t.TempDir: its parent is private to this user, so the postgres user could not reach it.
	dir, err := os.MkdirTemp("", "nexsalto-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	password := randomHex(t, 16)
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if owner != nil {
		uid, _ := strconv.Atoi(owner.Uid)
		gid, _ := strconv.Atoi(owner.Gid)
		for _, p := range []string{dir, pwfile} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(name string, args ...string) error {
		argv := append(append(slices.Clone(asUser), filepath.Join(bin, name)), args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	// Password authentication over TCP, as a production server asks for: the DSN's password is really checked.
	if err := run("initdb", "-D", data, "-U", "temporal", "--pwfile", pwfile, "--auth-local=trust",
		"--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	var port int
	for attempt := 0; ; attempt++ {
		if port, err = devserver.FreePort("127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		// fsync off: a throwaway cluster need not survive a power cut, and the shared disk is spared.
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", port, dir)
		err = run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			break
		}
		if attempt == 2 { // a port taken between the pick and the start is the one failure worth retrying
			logs, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("%v\nserver log:\n%s", err, logs)
		}
	}
	t.Cleanup(func() {
		if err := run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop"); err != nil {
			t.Errorf("stop the test cluster: %v", err)
		}
	})
	return (&url.URL{Scheme: "postgres", User: url.UserPassword("temporal", password),
		Host: "127.0.0.1:" + strconv.Itoa(port), Path: "/temporal", RawQuery: "sslmode=disable"}).String()
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
