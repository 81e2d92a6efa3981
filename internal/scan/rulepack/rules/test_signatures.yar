/*
  kintsugi built-in rules: anti-virus test files.
  Written for the kintsugi project (Apache-2.0).
*/

rule kintsugi_eicar_test_file
{
    meta:
        description = "EICAR anti-virus test file (harmless; proves the scanner works)"
        author = "kintsugi"
        severity = "low"
        verdict = "malicious"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar at 0 and filesize <= 128
}
