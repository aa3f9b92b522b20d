// Package realfaults injects faults into real Conductor servers while Baton
// workers run thousands of one-task workflows through them, and checks from
// the server's side that no result was lost or applied twice:
//
//   - the server killed with SIGKILL and restarted on the same port with its
//     store kept (TestServerKilled);
//   - on 3.21 as shipped (workflows in the server's memory, queues in Redis),
//     the Redis restarted empty (TestRedisRestarted);
//   - a TCP proxy between worker and server that resets every connection,
//     adds 200 ms each way, or goes half-open (TestNetworkFaults);
//   - 5xx answers under load: provoked on the real 3.32 SQLite store, and
//     injected as SQLITE_BUSY-like 500s for a share of polls and updates
//     (TestSQLiteUnderLoad, TestInjectedBusyAnswers).
//
// The tests need a server started by test/conductor/run.sh, which exports
// CONDUCTOR_SERVER_URL and the restart helpers; without CONDUCTOR_SERVER_URL
// every test skips, so `make test` passes through quickly. Run them with
// `make test-conductor-faults` (REALFAULTS_WORKFLOWS sets the workload).
// Each test logs its figures on a line starting with "RESULT".
package realfaults
