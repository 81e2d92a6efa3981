package hunt

import (
	"net/netip"
	"path/filepath"
	"strings"
)

// genericFolders are folder names that say where logs sit, not which
// server they came from; they are never taken for a host name.
var genericFolders = map[string]bool{
	"": true, ".": true, "..": true, "/": true, "var": true, "log": true, "logs": true, "winevt": true,
	"windows": true, "system32": true, "config": true, "evtx": true, "eventlogs": true, "event logs": true,
	"export": true, "exports": true, "collected": true, "collection": true, "collections": true,
	"evidence": true, "data": true, "tmp": true, "temp": true, "home": true, "root": true, "etc": true,
	"journal": true, "audit": true, "sysmon": true, "mnt": true, "media": true, "triage": true,
	"artifacts": true, "artefacts": true, "kape": true, "uploads": true, "files": true, "linux": true,
	"rsyslog": true, "private": true, "c": true, "c$": true, "d": true, "logfiles": true, "output": true,
}

// genericFree returns name unless it is a generic folder name (or hidden).
func genericFree(name string) string {
	if genericFolders[strings.ToLower(name)] || strings.HasPrefix(name, ".") {
		return ""
	}
	return name
}

// subfolderHost names the host of a file found under a folder the user
// gave: the first folder below root, from the top, that is not a generic
// name ("collected/web01/var/log/auth.log" -> "web01"). Files directly in
// root get "".
func subfolderHost(root, path string) string {
	rel, err := filepath.Rel(root, filepath.Dir(path))
	if err != nil || rel == "." {
		return ""
	}
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if h := genericFree(part); h != "" {
			return h
		}
	}
	return ""
}

// HostKey is the name under which a host's evidence is merged: lower
// case, without the domain ("WEB01.corp.local" and "web01" are one
// server). IP addresses are kept whole.
func HostKey(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return ""
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return name
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}
