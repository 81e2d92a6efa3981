// Package proc keeps the watch agent's view of processes: a table of
// process ancestry fed by the kernel's process connector (fork, exec and
// exit as they happen, so that a child that wrote a file and exited is
// still attributed to its parent) with /proc as the fallback, the details
// an alert shows (executable, its SHA-256, command line, user), and the
// stop, continue and kill actions, done through pidfds so that a reused
// pid is never signalled.
//
// Only internal/watch imports it. ParseConnector is pure and fuzzed.
package proc
