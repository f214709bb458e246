package testkit

import (
	"strings"
	"testing"
)

func TestNewDBHasTheSchemaAndIsDropped(t *testing.T) {
	var name string
	t.Run("scratch", func(t *testing.T) {
		u := NewDB(t)
		name = u[strings.LastIndex(u, "/")+1 : strings.Index(u, "?")]
		if n := Scalar[int](t, u, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'ihr\\_%'"); n < 22 {
			t.Errorf("scratch database has %d ihr_* tables", n)
		}
		if n := Scalar[int](t, u, "SELECT count(*) FROM schema_migrations"); n == 0 {
			t.Error("schema_migrations is empty")
		}
	})
	if n := Scalar[int](t, PostgresURL(t), "SELECT count(*) FROM pg_database WHERE datname = $1", name); n != 0 {
		t.Errorf("database %s survived its test", name)
	}
}

func TestNewEmptyDBHasNoTables(t *testing.T) {
	u := NewEmptyDB(t)
	if n := Scalar[int](t, u, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); n != 0 {
		t.Errorf("empty database has %d tables", n)
	}
}

func TestScratchDatabasesAreIsolated(t *testing.T) {
	a, b := NewDB(t), NewDB(t)
	if a == b {
		t.Fatal("two scratch databases share a name")
	}
	Exec(t, a, "INSERT INTO ihr_country VALUES ('XX', 'Nowhere', false, false)")
	if n := Scalar[int](t, b, "SELECT count(*) FROM ihr_country"); n != 0 {
		t.Errorf("a row written to one scratch database shows in another")
	}
}
