package authlog

import (
	"net/netip"
	"strconv"
	"strings"
)

// Actions set in Fields["action"]: what a parsed message says happened.
// Built-in detections key on these, so they are part of the package's
// contract (docs/design/hunt.md lists them).
const (
	ActionLogon           = "logon"              // a successful login (sshd Accepted, login)
	ActionLogonFailed     = "logon_failed"       // a failed login attempt (sshd Failed ...)
	ActionAuthFailure     = "auth_failure"       // a PAM authentication failure (may repeat a logon_failed)
	ActionInvalidUser     = "invalid_user"       // a login for an account that does not exist
	ActionDenied          = "denied"             // a login refused by policy (AllowUsers, DenyUsers)
	ActionDisconnect      = "disconnect"         // a connection ended
	ActionSessionOpen     = "session_open"       // a PAM session opened
	ActionSessionClose    = "session_close"      // a PAM session closed
	ActionSudo            = "sudo"               // sudo ran a command
	ActionSudoFailed      = "sudo_failed"        // sudo refused (wrong password, not in sudoers)
	ActionSu              = "su"                 // su switched user
	ActionSuFailed        = "su_failed"          // su refused
	ActionUserAdded       = "user_added"         // useradd created an account
	ActionUserDeleted     = "user_deleted"       // userdel removed an account
	ActionUserModified    = "user_modified"      // usermod changed an account
	ActionGroupAdded      = "group_added"        // groupadd created a group
	ActionGroupMemberAdd  = "group_member_added" // an account joined a group
	ActionPasswordChanged = "password_changed"   // passwd/chpasswd changed a password
	ActionAuthorizedKey   = "authorized_keys"    // a record that names an authorized_keys file
	ActionProbe           = "probe"              // a scanner touched sshd without trying to log in
)

// parseMessage reads what prog said and adds fields. It never fails: what
// it does not understand stays in Message only.
func parseMessage(prog, module, msg string, f map[string]any) {
	if strings.HasPrefix(msg, "message repeated ") {
		// rsyslog: "message repeated 5 times: [ Failed password ...]"
		rest := strings.TrimPrefix(msg, "message repeated ")
		n, inner, ok := strings.Cut(rest, " times: [")
		if c, err := strconv.Atoi(n); ok && err == nil {
			f["count"] = c
			msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(inner), "]"))
		}
	}
	if strings.Contains(msg, "authorized_keys") {
		if p := tokenContaining(msg, "authorized_keys"); p != "" {
			f["file"] = p
		}
	}
	if strings.HasPrefix(msg, "pam_unix(") || strings.HasPrefix(msg, "pam_sss(") || strings.HasPrefix(msg, "pam_ldap(") {
		// "pam_unix(sshd:auth): ..." names the service and module itself.
		end := strings.Index(msg, "): ")
		if end > 0 {
			mod, svc, _ := strings.Cut(msg[:end], "(")
			svc, _, _ = strings.Cut(svc, ":")
			f["module"] = mod
			f["pam_service"] = svc
			parsePAM(svc, msg[end+3:], f)
			return
		}
	}
	if module != "" && strings.HasPrefix(module, "pam_") {
		parsePAM(prog, msg, f)
		return
	}
	switch prog {
	case "sshd", "sshd-session":
		parseSSHD(msg, f)
	case "sudo":
		parseSudo(msg, f)
	case "su":
		parseSu(msg, f)
	case "useradd", "usermod", "userdel", "groupadd", "groupmod", "gpasswd", "adduser", "newusers":
		parseShadowUtils(prog, msg, f)
	case "passwd", "chpasswd":
		if u, ok := strings.CutPrefix(msg, "password for '"); ok {
			if name, _, ok := strings.Cut(u, "'"); ok {
				f["action"] = ActionPasswordChanged
				f["target_user"] = name
			}
		}
	case "audit", "audispd", "auditd", "kernel":
		if strings.Contains(msg, "type=") {
			parseAudit(msg, f)
		}
	}
	if _, ok := f["action"]; !ok && f["file"] != nil {
		f["action"] = ActionAuthorizedKey
	}
}

// parseSSHD reads OpenSSH's messages.
func parseSSHD(msg string, f map[string]any) {
	msg = strings.TrimSuffix(msg, " [preauth]")
	switch {
	case strings.HasPrefix(msg, "Accepted "):
		// Accepted <method> for <user> from <ip> port <port> <proto>[: <key type> <fingerprint>]
		method, rest, _ := strings.Cut(msg[len("Accepted "):], " for ")
		f["action"] = ActionLogon
		f["method"] = method
		sshUserFrom(rest, f)
		if _, key, ok := strings.Cut(rest, ": "); ok {
			kt, fp, _ := strings.Cut(key, " ")
			f["key_type"] = kt
			f["key_fingerprint"] = fp
		}
	case strings.HasPrefix(msg, "Failed "):
		method, rest, ok := strings.Cut(msg[len("Failed "):], " for ")
		if !ok {
			return
		}
		f["action"] = ActionLogonFailed
		f["method"] = method
		sshUserFrom(rest, f)
	case strings.HasPrefix(msg, "Invalid user "):
		f["action"] = ActionInvalidUser
		f["invalid_user"] = true
		rest := msg[len("Invalid user "):]
		user, from, ok := cutLast(rest, " from ")
		if ok {
			f["user"] = user
			ipPort(from, f)
		}
	case strings.HasPrefix(msg, "User ") && strings.Contains(msg, " not allowed because "):
		// User root from 1.2.3.4 not allowed because not listed in AllowUsers
		rest := msg[len("User "):]
		user, rest, ok := strings.Cut(rest, " from ")
		if ok {
			f["action"] = ActionDenied
			f["user"] = user
			host, _, _ := strings.Cut(rest, " ")
			setSource(host, f)
		}
	case strings.HasPrefix(msg, "Disconnected from "), strings.HasPrefix(msg, "Connection closed by "):
		rest := strings.TrimPrefix(strings.TrimPrefix(msg, "Disconnected from "), "Connection closed by ")
		f["action"] = ActionDisconnect
		for _, p := range []string{"authenticating user ", "invalid user ", "user "} {
			if r, ok := strings.CutPrefix(rest, p); ok {
				// the user name may hold spaces; the address is the third
				// token from the end: "<user> <ip> port <port>"
				if user, addr, ok := cutLast(r, " port "); ok {
					if u, ip, ok := cutLast(user, " "); ok {
						f["user"] = u
						setSource(ip, f)
						if port := strings.Fields(addr); len(port) > 0 {
							f["source_port"] = port[0]
						}
					}
				}
				if p == "invalid user " {
					f["invalid_user"] = true
				}
				return
			}
		}
		ipPort(rest, f)
	case strings.HasPrefix(msg, "Received disconnect from "):
		f["action"] = ActionDisconnect
		addr, _, _ := strings.Cut(msg[len("Received disconnect from "):], ":")
		ipPort(addr, f)
	case strings.HasPrefix(msg, "error: maximum authentication attempts exceeded for "):
		f["action"] = ActionLogonFailed
		sshUserFrom(msg[len("error: maximum authentication attempts exceeded for "):], f)
	case strings.HasPrefix(msg, "PAM ") && strings.Contains(msg, " more authentication failure"):
		// PAM 2 more authentication failures; logname= ... rhost=1.2.3.4  user=root
		n, _, _ := strings.Cut(msg[len("PAM "):], " ")
		if c, err := strconv.Atoi(n); err == nil {
			f["count"] = c
		}
		f["action"] = ActionAuthFailure
		pamKV(msg, f)
	case strings.HasPrefix(msg, "reverse mapping checking getaddrinfo for "):
		if i := strings.IndexByte(msg, '['); i > 0 {
			if j := strings.IndexByte(msg[i:], ']'); j > 0 {
				setSource(msg[i+1:i+j], f)
			}
		}
		f["action"] = ActionProbe
	case strings.HasPrefix(msg, "Did not receive identification string from "),
		strings.HasPrefix(msg, "Unable to negotiate with "),
		strings.HasPrefix(msg, "Bad protocol version identification"):
		f["action"] = ActionProbe
		rest := msg[strings.Index(msg, " from ")+1:]
		if strings.HasPrefix(msg, "Unable to negotiate with ") {
			rest = msg[len("Unable to negotiate with "):]
			rest, _, _ = strings.Cut(rest, ":")
		} else {
			rest = strings.TrimPrefix(rest, "from ")
		}
		ipPort(rest, f)
	case strings.HasPrefix(msg, "Authentication refused: "):
		f["action"] = ActionDenied
	}
}

// sshUserFrom parses "[invalid user ]<user> from <ip> port <port> ssh2...".
func sshUserFrom(s string, f map[string]any) {
	if r, ok := strings.CutPrefix(s, "invalid user "); ok {
		s = r
		f["invalid_user"] = true
	}
	user, rest, ok := cutLast(s, " from ")
	if !ok {
		return
	}
	f["user"] = user
	ipPort(rest, f)
}

// ipPort parses "<ip>[ port <port>][ ...]".
func ipPort(s string, f map[string]any) {
	fs := strings.Fields(s)
	if len(fs) == 0 {
		return
	}
	setSource(fs[0], f)
	if len(fs) >= 3 && fs[1] == "port" {
		f["source_port"] = strings.TrimSuffix(fs[2], ":")
	}
}

// setSource records a remote address: an IP address as source_ip, a name
// as source_host.
func setSource(s string, f map[string]any) {
	s = strings.Trim(s, "[]:,")
	if s == "" {
		return
	}
	if a, err := netip.ParseAddr(s); err == nil {
		f["source_ip"] = a.Unmap().String()
		return
	}
	f["source_host"] = s
}

// cutLast cuts s around the last sep (user names may contain the
// separators of the message around them).
func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// parsePAM reads pam_unix's messages for service svc.
func parsePAM(svc, msg string, f map[string]any) {
	switch {
	case strings.HasPrefix(msg, "authentication failure"):
		pamKV(msg, f)
		switch svc {
		case "sudo":
			f["action"] = ActionSudoFailed
		case "su", "su-l":
			f["action"] = ActionSuFailed
		default:
			f["action"] = ActionAuthFailure
		}
	case strings.HasPrefix(msg, "session opened for user "):
		// session opened for user root(uid=0) by alice(uid=1000)
		rest := msg[len("session opened for user "):]
		target, by, _ := strings.Cut(rest, " by ")
		target = pamName(target)
		by = pamName(by)
		switch svc {
		case "su", "su-l", "sudo", "sudo-i", "runuser", "runuser-l":
			if svc == "sudo" || svc == "sudo-i" {
				f["action"] = ActionSessionOpen
			} else {
				f["action"] = ActionSu
			}
			f["target_user"] = target
			if by != "" {
				f["user"] = by
			}
		default:
			f["action"] = ActionSessionOpen
			f["user"] = target
		}
	case strings.HasPrefix(msg, "session closed for user "):
		f["action"] = ActionSessionClose
		f["user"] = pamName(msg[len("session closed for user "):])
	case strings.HasPrefix(msg, "password changed for "):
		f["action"] = ActionPasswordChanged
		f["target_user"] = strings.TrimSpace(msg[len("password changed for "):])
	}
}

// pamName turns "root(uid=0)" into "root" and "(uid=0)" into "uid=0".
func pamName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '('); i > 0 {
		return s[:i]
	}
	return strings.Trim(s, "()")
}

// pamKV reads "logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root".
func pamKV(msg string, f map[string]any) {
	_, kv, ok := strings.Cut(msg, ";")
	if !ok {
		kv = msg
	}
	for _, tok := range strings.Fields(kv) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || v == "" {
			continue
		}
		switch k {
		case "rhost":
			setSource(v, f)
		case "user":
			f["user"] = v
		case "ruser":
			f["ruser"] = v
		case "tty":
			f["tty"] = v
		case "uid":
			f["uid"] = v
		}
	}
}

// parseSudo reads "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/id"
// and its refusal forms ("alice : 3 incorrect password attempts ; TTY=...").
func parseSudo(msg string, f map[string]any) {
	user, rest, ok := strings.Cut(strings.TrimSpace(msg), " : ")
	if !ok || strings.ContainsAny(user, " \t") {
		return
	}
	f["user"] = user
	f["action"] = ActionSudo
	for rest != "" {
		var seg string
		if strings.HasPrefix(rest, "COMMAND=") {
			seg, rest = rest, ""
		} else {
			seg, rest, _ = strings.Cut(rest, " ; ")
		}
		k, v, ok := strings.Cut(seg, "=")
		if !ok || strings.ContainsAny(k, " ") {
			// a reason: "3 incorrect password attempts", "user NOT in sudoers"
			f["action"] = ActionSudoFailed
			f["reason"] = strings.TrimSpace(seg)
			continue
		}
		switch k {
		case "TTY":
			f["tty"] = v
		case "PWD":
			f["pwd"] = v
		case "USER":
			f["target_user"] = v
		case "GROUP":
			f["target_group"] = v
		case "COMMAND":
			f["command"] = v
		}
	}
	if _, ok := f["target_user"]; !ok && f["action"] == ActionSudo {
		f["target_user"] = "root"
	}
}

// parseSu reads the shadow-utils and util-linux forms of su's messages.
func parseSu(msg string, f map[string]any) {
	switch {
	case strings.HasPrefix(msg, "Successful su for "), strings.HasPrefix(msg, "FAILED su for "):
		ok := strings.HasPrefix(msg, "Successful")
		rest := msg[strings.Index(msg, " for ")+5:]
		target, by, _ := strings.Cut(rest, " by ")
		f["target_user"] = target
		f["user"] = by
		if ok {
			f["action"] = ActionSu
		} else {
			f["action"] = ActionSuFailed
		}
	case strings.HasPrefix(msg, "+ "), strings.HasPrefix(msg, "- "):
		// "+ pts/0 alice:root" (success) / "- pts/0 alice:root" (failure)
		fs := strings.Fields(msg)
		if len(fs) == 3 {
			by, target, ok := strings.Cut(fs[2], ":")
			if ok {
				f["tty"], f["user"], f["target_user"] = fs[1], by, target
				if msg[0] == '+' {
					f["action"] = ActionSu
				} else {
					f["action"] = ActionSuFailed
				}
			}
		}
	case strings.HasPrefix(msg, "(to "), strings.HasPrefix(msg, "FAILED SU (to "):
		// util-linux: "(to root) alice on pts/0", "FAILED SU (to root) alice on pts/0"
		failed := strings.HasPrefix(msg, "FAILED")
		rest := msg[strings.Index(msg, "(to ")+4:]
		target, rest, ok := strings.Cut(rest, ") ")
		if !ok {
			return
		}
		by, tty, _ := strings.Cut(rest, " on ")
		f["target_user"], f["user"], f["tty"] = target, by, tty
		if failed {
			f["action"] = ActionSuFailed
		} else {
			f["action"] = ActionSu
		}
	}
}

// parseShadowUtils reads useradd, usermod, userdel, groupadd and gpasswd.
func parseShadowUtils(prog, msg string, f map[string]any) {
	switch {
	case strings.HasPrefix(msg, "new user: "):
		f["action"] = ActionUserAdded
		commaKV(msg[len("new user: "):], f)
	case strings.HasPrefix(msg, "new group: "), strings.HasPrefix(msg, "group added to "):
		f["action"] = ActionGroupAdded
		_, kv, _ := strings.Cut(msg, ": ")
		commaKV(kv, f)
		if n, ok := f["target_user"]; ok {
			delete(f, "target_user")
			f["group"] = n
		}
	case strings.HasPrefix(msg, "add '"):
		// add 'bob' to group 'sudo' / add 'bob' to shadow group 'sudo'
		user, rest, ok := strings.Cut(msg[len("add '"):], "' to ")
		if !ok {
			return
		}
		_, group, _ := strings.Cut(rest, "group '")
		f["action"] = ActionGroupMemberAdd
		f["target_user"] = user
		f["group"] = strings.TrimSuffix(group, "'")
	case strings.HasPrefix(msg, "user ") && strings.Contains(msg, " added by ") && strings.Contains(msg, " to group "):
		// gpasswd: user bob added by root to group sudo
		rest := msg[len("user "):]
		user, rest, _ := strings.Cut(rest, " added by ")
		by, group, _ := strings.Cut(rest, " to group ")
		f["action"] = ActionGroupMemberAdd
		f["target_user"], f["user"], f["group"] = user, by, group
	case strings.HasPrefix(msg, "delete user '"):
		f["action"] = ActionUserDeleted
		f["target_user"] = strings.TrimSuffix(msg[len("delete user '"):], "'")
	case strings.HasPrefix(msg, "change user '"), strings.HasPrefix(msg, "lock user '"), strings.HasPrefix(msg, "unlock user '"):
		_, rest, _ := strings.Cut(msg, "user '")
		user, _, _ := strings.Cut(rest, "'")
		f["action"] = ActionUserModified
		f["target_user"] = user
		if strings.Contains(msg, " password") {
			f["action"] = ActionPasswordChanged
		}
	}
	_ = prog
}

// commaKV reads "name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0".
func commaKV(s string, f map[string]any) {
	for _, seg := range strings.Split(s, ", ") {
		k, v, ok := strings.Cut(strings.TrimSpace(seg), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "name":
			f["target_user"] = v
		case "uid":
			f["uid"] = v
		case "gid":
			f["gid"] = v
		case "home":
			f["home"] = v
		case "shell":
			f["shell"] = v
		case "from":
			f["tty"] = v
		}
	}
}

// parseAudit reads key=value pairs of an audit record
// ("type=PATH msg=audit(1700000000.123:42): item=0 name="/root/.ssh/authorized_keys" nametype=CREATE").
func parseAudit(msg string, f map[string]any) {
	for s := msg; s != ""; {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := s[:eq]
		if sp := strings.LastIndexByte(key, ' '); sp >= 0 {
			key = key[sp+1:]
		}
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:1+end], s[end+2:]
			}
		} else {
			val, s, _ = strings.Cut(s, " ")
		}
		if key == "" || strings.ContainsAny(key, "\"'") {
			continue
		}
		if key == "type" {
			f["audit_type"] = val
			continue
		}
		if _, taken := f[key]; !taken {
			f[key] = val
		}
	}
	if n, ok := f["name"].(string); ok && strings.Contains(n, "authorized_keys") {
		f["file"] = n
	}
}

// tokenContaining returns the whitespace-separated token of s that holds sub,
// without surrounding quotes and punctuation.
func tokenContaining(s, sub string) string {
	for _, tok := range strings.Fields(s) {
		if strings.Contains(tok, sub) {
			tok = strings.Trim(tok, `"',;:()[]`)
			if i := strings.IndexByte(tok, '='); i >= 0 && !strings.HasPrefix(tok, "/") {
				tok = strings.Trim(tok[i+1:], `"'`)
			}
			return tok
		}
	}
	return ""
}
