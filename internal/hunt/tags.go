package hunt

import (
	"strings"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// SeverityFromLevel maps a Sigma rule level to a severity.
func SeverityFromLevel(level string) incident.Severity {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "critical":
		return incident.Critical
	case "high":
		return incident.High
	case "medium":
		return incident.Medium
	case "low":
		return incident.Low
	}
	return incident.Info
}

// techniqueCategories say which verdict an ATT&CK technique supports;
// the most specific (longest) prefix wins.
var techniqueCategories = map[string]Category{
	"T1486": CatEncryption,   // data encrypted for impact
	"T1490": CatImpactPrep,   // inhibit system recovery
	"T1489": CatImpactPrep,   // service stop
	"T1485": CatImpactPrep,   // data destruction
	"T1567": CatExfiltration, // exfiltration over web service
	"T1048": CatExfiltration, // over alternative protocol
	"T1041": CatExfiltration, // over C2 channel
	"T1537": CatExfiltration, // to cloud account
	"T1052": CatExfiltration, // physical medium
	"T1020": CatExfiltration, // automated exfiltration
	"T1030": CatExfiltration, // data transfer size limits
	"T1560": CatExfilPrep,    // archive collected data
	"T1074": CatExfilPrep,    // data staged
	"T1110": CatAttempt,      // brute force
	"T1078": CatAccess,       // valid accounts
	"T1021": CatAccess,       // remote services
	"T1550": CatAccess,       // alternate authentication material
	"T1133": CatAccess,       // external remote services
	"T1570": CatAccess,       // lateral tool transfer
	"T1047": CatExecution,
	"T1569": CatExecution,
	"T1053": CatExecution,
	"T1059": CatExecution,
	"T1136": CatPersistence,
	"T1543": CatPersistence,
	"T1098": CatPrivilege,
	"T1548": CatPrivilege,
	"T1068": CatPrivilege,
	"T1134": CatPrivilege,
	"T1070": CatEvasion,
	"T1562": CatEvasion,
}

// tacticCategories are used when no technique decides.
var tacticCategories = map[string]Category{
	// a rule tagged with the exfiltration tactic but no exfiltration
	// technique is evidence around exfiltration, not of it
	"impact": CatImpactPrep, "exfiltration": CatExfilPrep, "collection": CatExfilPrep,
	"lateral_movement": CatAccess, "initial_access": CatAccess, "credential_access": CatAccess,
	"privilege_escalation": CatPrivilege, "persistence": CatPersistence, "execution": CatExecution,
	"defense_evasion": CatEvasion,
}

// CategoryFromTags reads Sigma tags ("attack.t1021.001", "attack.lateral_movement")
// into ATT&CK technique ids and the category they support.
func CategoryFromTags(tags []string) (Category, []string) {
	var techniques []string
	cat, best := CatOther, 0
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		rest, ok := strings.CutPrefix(t, "attack.")
		if !ok {
			continue
		}
		if len(rest) > 1 && rest[0] == 't' && rest[1] >= '0' && rest[1] <= '9' {
			id := strings.ToUpper(rest)
			techniques = append(techniques, id)
			base, _, _ := strings.Cut(id, ".")
			if c, ok := techniqueCategories[base]; ok && len(base) > best {
				cat, best = c, len(base)
			}
		}
	}
	if best == 0 {
		for _, t := range tags {
			if c, ok := tacticCategories[strings.TrimPrefix(strings.ToLower(t), "attack.")]; ok {
				cat = c
				break
			}
		}
	}
	return cat, techniques
}
