/*
  kintsugi built-in rules: scripts and tools that prepare a ransomware run
  (delete shadow copies and backups, disable recovery, switch off
  Microsoft Defender). Written for the kintsugi project (Apache-2.0).
*/

rule kintsugi_shadow_copy_deletion
{
    meta:
        description = "Script or binary that deletes shadow copies or backups, or disables Windows recovery"
        author = "kintsugi"
        severity = "high"
        verdict = "malicious"
        attack = "T1490"
    strings:
        $v1 = /vssadmin(\.exe)?["']?\s+delete\s+shadows/ nocase ascii wide
        $v2 = /vssadmin(\.exe)?["']?\s+resize\s+shadowstorage/ nocase ascii wide
        $v3 = /wmic(\.exe)?["']?\s+shadowcopy\s+delete/ nocase ascii wide
        $v4 = /wbadmin(\.exe)?["']?\s+delete\s+(catalog|systemstatebackup|backup)/ nocase ascii wide
        $v5 = /bcdedit(\.exe)?["']?\s+\/set\s+\{?default\}?\s+recoveryenabled\s+no/ nocase ascii wide
        $v6 = /bcdedit(\.exe)?["']?\s+\/set\s+\{?default\}?\s+bootstatuspolicy\s+ignoreallfailures/ nocase ascii wide
        $v7 = /Win32_ShadowCopy[^\n]{0,80}\.Delete\(\)/ nocase ascii wide
        $v8 = /Get-(Wmi|Cim)Object\s+Win32_Shadowcopy[^\n]{0,80}(Remove-(Wmi|Cim)Object|Delete)/ nocase ascii wide
    condition:
        filesize < 20MB and any of them
}

rule kintsugi_defender_tampering
{
    meta:
        description = "Script that switches off Microsoft Defender protection or excludes whole drives"
        author = "kintsugi"
        severity = "high"
        verdict = "malicious"
        attack = "T1562.001"
    strings:
        $m1 = /Set-MpPreference\s+[^\n]{0,120}-Disable(RealtimeMonitoring|BehaviorMonitoring|IOAVProtection|ScriptScanning|BlockAtFirstSeen|IntrusionPreventionSystem)\s+(\$true|1)/ nocase ascii wide
        $m2 = /Add-MpPreference\s+[^\n]{0,40}-ExclusionPath\s+["']?[A-Z]:\\?["']?(\s|$)/ nocase ascii wide
        $r1 = /reg(\.exe)?\s+add\s+["']?HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender[^\n]{0,120}DisableAntiSpyware[^\n]{0,40}\/d\s+1/ nocase ascii wide
        $r2 = /reg(\.exe)?\s+add\s+[^\n]{0,120}Real-Time Protection[^\n]{0,60}DisableRealtimeMonitoring[^\n]{0,40}\/d\s+1/ nocase ascii wide
        $s1 = /sc(\.exe)?\s+(config|stop)\s+WinDefend/ nocase ascii wide
    condition:
        filesize < 20MB and any of them
}
