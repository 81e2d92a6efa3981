package hunt

import (
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Category says which part of an attack a detection is evidence of. The
// per-host verdicts (correlate) are built from categories: access and
// lateral movement make "accessed", encryption makes "encrypted",
// exfiltration makes "exfiltrated".
type Category string

// Categories.
const (
	CatAccess       Category = "access"            // logons, credential use, lateral movement
	CatAttempt      Category = "access_attempt"    // failed logons: tried, not (yet) in
	CatPrivilege    Category = "privilege"         // new admins, su/sudo to root
	CatExecution    Category = "execution"         // remote execution: PsExec, WMI, WinRM
	CatPersistence  Category = "persistence"       // new keys, new services
	CatEvasion      Category = "defense_evasion"   // log clearing, Defender tampering
	CatImpactPrep   Category = "impact_prep"       // shadow copy and backup deletion, service stops
	CatEncryption   Category = "encryption"        // ransom notes, mass encryption
	CatExfilPrep    Category = "exfiltration_prep" // password-protected archives
	CatExfiltration Category = "exfiltration"      // exfiltration tools, uploads, cloud storage
	CatOther        Category = "other"
)

// EventRef points at the record behind a detection.
type EventRef struct {
	Source   string `json:"source"`
	RecordID uint64 `json:"record_id,omitempty"`
	Channel  string `json:"channel,omitempty"`
	Provider string `json:"provider,omitempty"`
	EventID  int    `json:"event_id,omitempty"`
	Level    string `json:"level,omitempty"`
}

// Ref returns a reference to e.
func (e *Event) Ref() EventRef {
	return EventRef{Source: e.Source, RecordID: e.RecordID, Channel: e.Channel, Provider: e.Provider, EventID: e.EventID, Level: e.Level}
}

// Detection is one thing a rule (built-in or Sigma) found in the logs.
type Detection struct {
	RuleID     string            `json:"rule_id"`
	Title      string            `json:"title"`
	Engine     string            `json:"engine"` // "builtin" or "sigma"
	Severity   incident.Severity `json:"severity"`
	Category   Category          `json:"category"`
	Techniques []string          `json:"techniques,omitempty"` // ATT&CK ids: T1078, T1021.001
	// Time is when it happened (the first event, for aggregated ones);
	// Last is the last event aggregated into it.
	Time time.Time `json:"time"`
	Last time.Time `json:"last,omitzero"`
	// Host is the server it happened on, as the event names it.
	Host string `json:"host"`
	// Account is the account that acted or logged on; Source where it
	// came from (an address or a workstation name).
	Account string `json:"account,omitempty"`
	Source  string `json:"source,omitempty"`
	// Details is one line for people: the command line, the service, the
	// logon.
	Details string `json:"details"`
	// Count is the number of events aggregated (1 for a single event).
	Count int `json:"count,omitempty"`
	// Tool and Destination name an exfiltration tool and where data
	// went; Bytes is a transferred volume when the logs give one.
	Tool        string `json:"tool,omitempty"`
	Destination string `json:"destination,omitempty"`
	Bytes       int64  `json:"bytes,omitempty"`
	// Context explains a severity that depends on surrounding events
	// (a log cleared before any recorded activity is not an attack).
	Context string   `json:"context,omitempty"`
	Event   EventRef `json:"event"`
}

// Logon is one successful or failed logon, the raw material of the
// account x host graph.
type Logon struct {
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	Account string    `json:"account"` // lower case, without domain
	Domain  string    `json:"domain,omitempty"`
	// Source is the remote address, else the workstation name, "" for
	// local logons.
	Source string `json:"source,omitempty"`
	// Kind is "network", "rdp", "interactive", "ssh", "explicit" (4648: the
	// account's credentials used to reach Target), "other".
	Kind       string   `json:"kind"`
	LogonType  int      `json:"logon_type,omitempty"`
	Target     string   `json:"target,omitempty"` // for "explicit": the server reached
	Success    bool     `json:"success"`
	Privileged bool     `json:"privileged,omitempty"`
	Event      EventRef `json:"event"`
}

// AccountKey normalises an account name for matching across hosts:
// lower case, without "DOMAIN\" or "@domain".
func AccountKey(name string) (account, domain string) {
	name = strings.TrimSpace(name)
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		domain, name = name[:i], name[i+1:]
	} else if i := strings.LastIndexByte(name, '@'); i > 0 {
		name, domain = name[:i], name[i+1:]
	}
	return strings.ToLower(name), domain
}
