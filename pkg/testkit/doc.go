// Package testkit gives integration tests isolated pieces of the machine's
// real services, so test packages can run in parallel without seeing each
// other's data:
//
//   - PostgreSQL: [NewDB] returns a scratch database cloned from a template
//     migrated by scripts/db/migrate.sh (rebuilt whenever the migrations
//     change), [NewEmptyDB] an empty one; both are dropped when the test
//     ends. [PostgresURL] is the admin URL, [RepoRoot] the directory holding
//     go.work. [Exec] and [Scalar] run one statement.
//   - NATS and Redis: [NATSURL], [NATSPrefix], [RedisURL], [Prefix].
//   - Services started in-process, readiness probes and a TCP [Proxy] that
//     cuts a dependency.
//
// A missing service fails the test (t.Fatalf) with the command that starts
// it; nothing is ever skipped.
package testkit
