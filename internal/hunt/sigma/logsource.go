package sigma

import (
	"fmt"
	"strings"
)

// Logsource is a rule's logsource section.
type Logsource struct {
	Product  string `json:"product,omitempty"`
	Category string `json:"category,omitempty"`
	Service  string `json:"service,omitempty"`
}

func (l Logsource) String() string {
	var parts []string
	for _, kv := range [][2]string{{"product", l.Product}, {"category", l.Category}, {"service", l.Service}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if len(parts) == 0 {
		return "empty logsource"
	}
	return strings.Join(parts, " ")
}

// Channel groups used as targets when a logsource names no channel.
const (
	anyLinux   = "\x00linux"   // every Linux channel
	anyWindows = "\x00windows" // every channel that is not Linux
)

// Linux channels produced by kintsugi's Linux readers (internal/hunt/authlog)
// and accepted from JSONL input.
var linuxChannels = []string{"auth", "syslog", "journal", "auditd"}

func isLinuxChannel(ch string) bool {
	for _, c := range linuxChannels {
		if c == ch {
			return true
		}
	}
	return false
}

// target is where a rule can fire: channels, optionally event ids,
// providers and extra field conditions, with the Sigma-to-event field
// name mapping for that source.
type target struct {
	name      string // for reports: "sysmon", "security 4688" ...
	channels  []string
	eventIDs  []int
	providers []string
	conds     map[string][]string // event field -> accepted values (equality)
	fieldMap  map[string]string   // Sigma field -> event field
	// only, when set, restricts the target to rules whose fields all
	// exist on it (after mapping), so that a missing field cannot turn a
	// "not filter" into a match.
	only map[string]bool
}

const sysmonChannel = "Microsoft-Windows-Sysmon/Operational"

var powershellChannels = []string{"Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"}

// sysmonCategories maps Windows categories to Sysmon event ids, as in
// SigmaHQ's published THOR/Sysmon mapping.
var sysmonCategories = map[string][]int{
	"process_creation":         {1},
	"file_change":              {2},
	"network_connection":       {3},
	"sysmon_status":            {4, 16},
	"process_termination":      {5},
	"driver_load":              {6},
	"image_load":               {7},
	"create_remote_thread":     {8},
	"raw_access_thread":        {9},
	"process_access":           {10},
	"file_event":               {11},
	"registry_add":             {12},
	"registry_delete":          {12},
	"registry_set":             {13},
	"registry_rename":          {14},
	"registry_event":           {12, 13, 14},
	"create_stream_hash":       {15},
	"pipe_created":             {17, 18},
	"wmi_event":                {19, 20, 21},
	"dns_query":                {22},
	"file_delete":              {23, 26},
	"clipboard_change":         {24},
	"process_tampering":        {25},
	"file_delete_detected":     {26},
	"file_block_executable":    {27},
	"file_block_shredding":     {28},
	"file_executable_detected": {29},
	"sysmon_error":             {255},
}

// sysmonConds narrows categories that share an event id.
var sysmonConds = map[string]map[string][]string{
	"registry_add":    {"EventType": {"CreateKey"}},
	"registry_delete": {"EventType": {"DeleteKey", "DeleteValue"}},
}

// security4688 is the Security process creation event and the Sigma
// field names it can answer.
var security4688Map = map[string]string{
	"Image":           "NewProcessName",
	"ParentImage":     "ParentProcessName",
	"ProcessId":       "NewProcessId",
	"ParentProcessId": "ProcessId",
	"LogonId":         "SubjectLogonId",
}

var security4688Fields = map[string]bool{
	"SubjectUserSid": true, "SubjectUserName": true, "SubjectDomainName": true, "SubjectLogonId": true,
	"NewProcessId": true, "NewProcessName": true, "TokenElevationType": true, "ProcessId": true,
	"CommandLine": true, "TargetUserSid": true, "TargetUserName": true, "TargetDomainName": true,
	"TargetLogonId": true, "ParentProcessName": true, "MandatoryLabel": true,
	"EventID": true, "Channel": true, "Provider_Name": true, "Computer": true,
}

// windowsServices maps Windows services to channels (SigmaHQ mapping).
var windowsServices = map[string][]string{
	"security":                             {"Security"},
	"system":                               {"System"},
	"application":                          {"Application"},
	"sysmon":                               {sysmonChannel},
	"powershell":                           powershellChannels,
	"powershell-classic":                   {"Windows PowerShell"},
	"taskscheduler":                        {"Microsoft-Windows-TaskScheduler/Operational"},
	"wmi":                                  {"Microsoft-Windows-WMI-Activity/Operational"},
	"dhcp":                                 {"Microsoft-Windows-DHCP-Server/Operational"},
	"printservice-admin":                   {"Microsoft-Windows-PrintService/Admin"},
	"printservice-operational":             {"Microsoft-Windows-PrintService/Operational"},
	"smbclient-security":                   {"Microsoft-Windows-SmbClient/Security"},
	"smbclient-connectivity":               {"Microsoft-Windows-SmbClient/Connectivity"},
	"smbserver-connectivity":               {"Microsoft-Windows-SMBServer/Connectivity"},
	"ntlm":                                 {"Microsoft-Windows-NTLM/Operational"},
	"terminalservices-localsessionmanager": {"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"},
	"codeintegrity-operational":            {"Microsoft-Windows-CodeIntegrity/Operational"},
	"applocker": {
		"Microsoft-Windows-AppLocker/MSI and Script", "Microsoft-Windows-AppLocker/EXE and DLL",
		"Microsoft-Windows-AppLocker/Packaged app-Deployment", "Microsoft-Windows-AppLocker/Packaged app-Execution",
	},
	"msexchange-management": {"MSExchange Management"},
	"windefend":             {"Microsoft-Windows-Windows Defender/Operational"},
	"firewall-as":           {"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"},
	"bits-client":           {"Microsoft-Windows-Bits-Client/Operational"},
	"security-mitigations":  {"Microsoft-Windows-Security-Mitigations/Kernel Mode", "Microsoft-Windows-Security-Mitigations/User Mode"},
	"diagnosis-scripted":    {"Microsoft-Windows-Diagnosis-Scripted/Operational"},
	"shell-core":            {"Microsoft-Windows-Shell-Core/Operational"},
	"openssh":               {"OpenSSH/Operational"},
	"ldap":                  {"Microsoft-Windows-LDAP-Client/Debug"},
	"bitlocker":             {"Microsoft-Windows-BitLocker/BitLocker Management"},
	"vhdmp":                 {"Microsoft-Windows-VHDMP/Operational"},
	"appxdeployment-server": {"Microsoft-Windows-AppXDeploymentServer/Operational"},
	"lsa-server":            {"Microsoft-Windows-LSA/Operational"},
	"appxpackaging-om":      {"Microsoft-Windows-AppxPackaging/Operational"},
	"dns-client":            {"Microsoft-Windows-DNS Client Events/Operational"},
	"appmodel-runtime":      {"Microsoft-Windows-AppModel-Runtime/Admin"},
	"capi2":                 {"Microsoft-Windows-CAPI2/Operational"},
	"certificateservicesclient-lifecycle-system": {"Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational"},
	"kernel-shimengine":                          {"Microsoft-Windows-Kernel-ShimEngine/Operational", "Microsoft-Windows-Kernel-ShimEngine/Diagnostic"},
	"application-experience": {
		"Microsoft-Windows-Application-Experience/Program-Telemetry",
		"Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant",
	},
	"ntfs":                        {"Microsoft-Windows-Ntfs/Operational"},
	"hyper-v-worker":              {"Microsoft-Windows-Hyper-V-Worker"},
	"kernel-event-tracing":        {"Microsoft-Windows-Kernel-EventTracing"},
	"sense":                       {"Microsoft-Windows-SENSE/Operational"},
	"servicebus-client":           {"Microsoft-ServiceBus-Client/Admin", "Microsoft-ServiceBus-Client/Operational"},
	"microsoft-servicebus-client": {"Microsoft-ServiceBus-Client/Admin", "Microsoft-ServiceBus-Client/Operational"},
	"iis-configuration":           {"Microsoft-IIS-Configuration/Operational"},
	"dns-server":                  {"DNS Server"},
	"dns-server-analytic":         {"Microsoft-Windows-DNSServer/Analytical"},
	"driver-framework":            {"Microsoft-Windows-DriverFrameworks-UserMode/Operational"},
}

// linuxServices maps Linux services to the programs (providers) that
// log them; auth, syslog and auditd are channels of their own.
var linuxServices = map[string][]string{
	"sshd":      {"sshd"},
	"sudo":      {"sudo"},
	"su":        {"su"},
	"cron":      {"cron", "CRON", "crond"},
	"vsftpd":    {"vsftpd"},
	"clamav":    {"clamd", "freshclam", "clamscan"},
	"guacamole": {"guacd"},
	"auditd":    nil,
}

// targetsFor maps a logsource to its targets, or says why it cannot be
// mapped to any input kintsugi reads.
func targetsFor(ls Logsource) ([]target, error) {
	product := strings.ToLower(ls.Product)
	category := strings.ToLower(ls.Category)
	service := strings.ToLower(ls.Service)
	switch product {
	case "windows":
		return windowsTargets(category, service)
	case "linux":
		return linuxTargets(category, service)
	case "":
		if category == "antivirus" {
			return windowsTargets(category, service)
		}
	}
	return nil, fmt.Errorf("logsource %s: no kintsugi input produces it", ls)
}

func windowsTargets(category, service string) ([]target, error) {
	if category != "" {
		switch category {
		case "ps_module":
			return []target{{name: "powershell 4103", channels: powershellChannels, eventIDs: []int{4103}}}, nil
		case "ps_script":
			return []target{{name: "powershell 4104", channels: powershellChannels, eventIDs: []int{4104}}}, nil
		case "ps_classic_start":
			return []target{{name: "powershell-classic 400", channels: []string{"Windows PowerShell"}, eventIDs: []int{400}}}, nil
		case "ps_classic_provider_start":
			return []target{{name: "powershell-classic 600", channels: []string{"Windows PowerShell"}, eventIDs: []int{600}}}, nil
		case "ps_classic_script":
			return []target{{name: "powershell-classic 800", channels: []string{"Windows PowerShell"}, eventIDs: []int{800}}}, nil
		case "antivirus":
			return []target{{
				name:     "windefend",
				channels: windowsServices["windefend"],
				eventIDs: []int{1006, 1007, 1008, 1009, 1010, 1011, 1012, 1017, 1018, 1019, 1115, 1116},
				fieldMap: map[string]string{"Signature": "ThreatName", "Filename": "Path"},
			}}, nil
		}
		ids, ok := sysmonCategories[category]
		if category == "file_access" || category == "file_rename" {
			return nil, fmt.Errorf("logsource category %s: comes from the Microsoft-Windows-Kernel-File ETW provider, which is not recorded in EVTX", category)
		}
		if !ok {
			return nil, fmt.Errorf("logsource category %s: not mapped to a Windows channel", category)
		}
		ts := []target{{name: "sysmon", channels: []string{sysmonChannel}, eventIDs: ids, conds: sysmonConds[category]}}
		if category == "process_creation" {
			ts = append(ts, target{
				name: "security 4688", channels: []string{"Security"}, eventIDs: []int{4688},
				fieldMap: security4688Map, only: security4688Fields,
			})
		}
		return ts, nil
	}
	if service == "" {
		return []target{{name: "windows", channels: []string{anyWindows}}}, nil
	}
	chans, ok := windowsServices[service]
	if !ok {
		return nil, fmt.Errorf("logsource service %s: not mapped to a Windows channel", service)
	}
	return []target{{name: service, channels: chans}}, nil
}

func linuxTargets(category, service string) ([]target, error) {
	if category != "" {
		return nil, fmt.Errorf("logsource product=linux category=%s: no kintsugi reader produces it (auth, syslog and journal lines only)", category)
	}
	switch service {
	case "":
		return []target{{name: "linux", channels: []string{"auth", "syslog", "journal"}}}, nil
	case "auth":
		return []target{{name: "auth", channels: []string{"auth"}}}, nil
	case "syslog":
		return []target{{name: "syslog", channels: []string{"syslog", "journal"}}}, nil
	case "auditd":
		return []target{{name: "auditd", channels: []string{"auditd"}}}, nil
	}
	provs, ok := linuxServices[service]
	if !ok {
		return nil, fmt.Errorf("logsource product=linux service=%s: not mapped to a Linux program", service)
	}
	return []target{{name: service, channels: []string{"auth", "syslog", "journal"}, providers: provs}}, nil
}
