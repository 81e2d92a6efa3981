/*
  kintsugi built-in rules: common web shells.
  Written for the kintsugi project (Apache-2.0).
*/

rule kintsugi_webshell_php
{
    meta:
        description = "PHP web shell: request data passed to code execution"
        author = "kintsugi"
        severity = "critical"
        verdict = "malicious"
        attack = "T1505.003"
    strings:
        $php = "<?" ascii
        $e1 = /(eval|assert|system|passthru|shell_exec|exec|popen|proc_open|create_function)\s*\(\s*(base64_decode\s*\(\s*|gzinflate\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)*\$_(POST|GET|REQUEST|COOKIE|SERVER\[.HTTP_)/ nocase
        $e2 = /preg_replace\s*\(\s*['"].{1,20}\/e['"]\s*,\s*\$_(POST|GET|REQUEST)/ nocase
        $e3 = /\$_(POST|GET|REQUEST)\s*\[[^\]]{1,40}\]\s*\(\s*\$_(POST|GET|REQUEST)/ nocase
    condition:
        filesize < 1MB and $php and any of ($e*)
}

rule kintsugi_webshell_aspx
{
    meta:
        description = "ASP/ASPX web shell: request data evaluated or run as a process (China Chopper style)"
        author = "kintsugi"
        severity = "critical"
        verdict = "malicious"
        attack = "T1505.003"
    strings:
        $a1 = /<%@\s*Page\s+Language\s*=\s*"?Jscript"?\s*%>\s*<%\s*eval\s*\(\s*Request/ nocase ascii wide
        $a2 = /eval\s*\(\s*Request(\.Item)?\s*[\[(]/ nocase ascii wide
        $a3 = /Execute\s*\(?\s*Request\s*\(/ nocase ascii wide
        $b1 = "System.Diagnostics.Process" ascii wide
        $b2 = /Request(\.Form|\.QueryString|\.Item)?\s*[\[(]/ ascii wide
        $b3 = "cmd.exe" nocase ascii wide
        $b4 = /StartInfo\.(FileName|Arguments)/ ascii wide
    condition:
        filesize < 1MB and (any of ($a*) or ($b1 and $b2 and $b3 and $b4))
}

rule kintsugi_webshell_jsp
{
    meta:
        description = "JSP web shell: request parameter run as a command"
        author = "kintsugi"
        severity = "critical"
        verdict = "malicious"
        attack = "T1505.003"
    strings:
        $j1 = /Runtime\.getRuntime\(\)\.exec\s*\(\s*request\.getParameter/ ascii
        $j2 = /new\s+ProcessBuilder\s*\([^)]{0,80}request\.getParameter/ ascii
    condition:
        filesize < 1MB and any of them
}
