/*
  kintsugi built-in rules: tools found on ransomware victims' servers.
  Written for the kintsugi project (Apache-2.0). Dual-use administration
  tools (PsExec, AnyDesk, rclone) are "suspect": on a file server they need
  an explanation before the data moves, but they are not malware.
*/

rule kintsugi_mimikatz
{
    meta:
        description = "Mimikatz credential dumper (binary, script or output)"
        author = "kintsugi"
        severity = "critical"
        verdict = "malicious"
        attack = "T1003.001"
    strings:
        $a1 = "sekurlsa::logonpasswords" nocase ascii wide
        $a2 = "sekurlsa::pth" nocase ascii wide
        $a3 = "lsadump::sam" nocase ascii wide
        $a4 = "lsadump::dcsync" nocase ascii wide
        $a5 = "privilege::debug" nocase ascii wide
        $b1 = "gentilkiwi" ascii wide
        $b2 = "mimikatz" nocase ascii wide
        $b3 = "mimilib" nocase ascii wide
        $b4 = "kiwi_msv1_0" ascii wide
        $b5 = "Invoke-Mimikatz" nocase ascii wide
    condition:
        2 of ($a*) or (1 of ($a*) and 1 of ($b*)) or 3 of ($b*) or $b5
}

rule kintsugi_lsass_dump_tools
{
    meta:
        description = "LSASS memory dumping by command line (comsvcs MiniDump, procdump -ma lsass)"
        author = "kintsugi"
        severity = "critical"
        verdict = "malicious"
        attack = "T1003.001"
    strings:
        $c1 = /comsvcs(\.dll)?[, ]+#?(MiniDump|24)/ nocase ascii wide
        $c2 = /procdump(64)?(\.exe)? .{0,40}-ma .{0,20}lsass/ nocase ascii wide
    condition:
        filesize < 5MB and any of them
}

rule kintsugi_rclone_config
{
    meta:
        description = "rclone configuration with a remote (used to exfiltrate data to cloud storage)"
        author = "kintsugi"
        severity = "high"
        verdict = "suspect"
        attack = "T1567.002"
    strings:
        $remote = /\[[^\]\r\n]{1,64}\]\r?\n(\s*[a-z_]+\s*=[^\r\n]*\r?\n){0,10}\s*type\s*=\s*(mega|s3|ftp|sftp|drive|dropbox|onedrive|pcloud|box|webdav|b2|swift|azureblob|googlecloudstorage|yandex|koofr|putio|seafile|storj)\b/
        $pass = /\n\s*(pass|password|secret_access_key|token|user)\s*=/
    condition:
        filesize < 1MB and $remote and $pass
}

rule kintsugi_rclone_binary
{
    meta:
        description = "rclone binary (cloud sync tool often renamed and used for exfiltration)"
        author = "kintsugi"
        severity = "medium"
        verdict = "suspect"
        attack = "T1567.002"
    strings:
        $m1 = "github.com/rclone/rclone" ascii
        $m2 = "rclone.org" ascii
    condition:
        (uint16(0) == 0x5a4d or uint32(0) == 0x464c457f) and all of them
}

rule kintsugi_mega_tools
{
    meta:
        description = "MEGAsync / MEGAcmd client or configuration (mega.nz exfiltration)"
        author = "kintsugi"
        severity = "high"
        verdict = "suspect"
        attack = "T1567.002"
    strings:
        $a1 = "MEGAcmd" ascii wide
        $a2 = "MEGAsync" ascii wide
        $a3 = "mega-put" ascii wide
        $a4 = "megacmd" nocase ascii wide
        $d1 = "mega.nz" ascii wide
        $d2 = "mega.co.nz" ascii wide
        $d3 = "g.api.mega" ascii wide
    condition:
        1 of ($a*) and 1 of ($d*)
}

rule kintsugi_psexec_paexec
{
    meta:
        description = "PsExec / PAExec remote execution tool or its service binary"
        author = "kintsugi"
        severity = "medium"
        verdict = "suspect"
        attack = "T1569.002"
    strings:
        $p1 = "PSEXESVC" ascii wide
        $p2 = "PsExec" ascii wide
        $p3 = "Sysinternals" ascii wide
        $x1 = "PAExec" ascii wide
        $x2 = "paexec" ascii wide
        $x3 = "Power Admin" ascii wide
    condition:
        uint16(0) == 0x5a4d and (($p1 and ($p2 or $p3)) or (($x1 or $x2) and $x3))
}

rule kintsugi_remote_access_portable
{
    meta:
        description = "Portable remote-access tool (AnyDesk, ScreenConnect/ConnectWise Control) dropped outside Program Files"
        author = "kintsugi"
        severity = "medium"
        verdict = "suspect"
        attack = "T1219"
    strings:
        $ad1 = "AnyDesk Software GmbH" ascii wide
        $ad2 = "anydesk.com" ascii wide
        $sc1 = "ScreenConnect.Client" ascii wide
        $sc2 = "ScreenConnect.WindowsClient" ascii wide
        $sc3 = "ConnectWise" ascii wide
    condition:
        uint16(0) == 0x5a4d and (all of ($ad*) or 2 of ($sc*))
}

rule kintsugi_cobalt_strike_beacon
{
    meta:
        description = "Cobalt Strike beacon artefacts (encoded configuration block, named-pipe formats, reflective loader)"
        author = "kintsugi"
        severity = "critical"
        verdict = "malicious"
        attack = "T1071.001"
    strings:
        // Settings block header (type, length, value triples) XOR-encoded
        // with 0x69 (beacon 3) or 0x2e (beacon 4), as public analyses describe.
        $cfg69 = { 69 68 69 68 69 6B ?? ?? 69 6B 69 68 69 6B ?? ?? 69 6A }
        $cfg2e = { 2E 2F 2E 2F 2E 2C ?? ?? 2E 2C 2E 2F 2E 2C ?? ?? 2E 2D }
        $pipe1 = "\\\\.\\pipe\\MSSE-%d-server" ascii wide
        $pipe2 = "%c%c%c%c%c%c%c%c%cMSSE-%d-server" ascii
        $pipe3 = "\\\\%s\\pipe\\msagent_%x" ascii wide
        $s1 = "%s as %s\\%s: %d" ascii
        $s2 = "beacon.x64.dll" ascii
        $s3 = "beacon.dll" ascii
        $s4 = "ReflectiveLoader" ascii
        $s5 = "%02d/%02d/%02d %02d:%02d:%02d" ascii
    condition:
        $cfg69 or $cfg2e or $pipe1 or $pipe2 or $pipe3 or 3 of ($s*)
}
