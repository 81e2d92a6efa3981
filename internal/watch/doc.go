// Package watch is kintsugi's agent for Linux servers: it follows file
// activity on the watched trees through fanotify, scores each process
// tree for ransomware behaviour (package score), stops a tree that
// crosses the threshold (SIGSTOP through pidfds, then kill or hold, with
// its further opens denied), places decoy files, follows the
// authentication logs for a stolen administrator account (package
// account), isolates the host with nftables on demand, and sends alerts
// to a local journal, syslog, a webhook and the case store.
//
// cmd/kintsugi wires it (watch.go); detectors it reuses come from scan
// (YARA note rules, the damage detector) and hunt (the auth log parser).
// Nothing here imports the case store: alerts leave through a Sender.
package watch
