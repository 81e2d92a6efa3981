/*
  kintsugi built-in rules: ransom notes.
  Written for the kintsugi project (Apache-2.0). A note is a small text or
  HTML file that combines several of: a statement that files were
  encrypted or stolen, an instruction to contact or pay, a Tor address or
  private chat, a deadline or threat to publish. One phrase alone is not
  enough: ordinary documents mention encryption and backups too.
*/

rule kintsugi_ransom_note_en
{
    meta:
        description = "Ransom note (English): encryption or theft claim combined with payment or contact instructions"
        author = "kintsugi"
        severity = "high"
        verdict = "malicious"
        attack = "T1486"
    strings:
        $enc1 = /(your|all( of)?( your)?|the) (important )?(files|data|documents|servers|network)[^.\n]{0,60}(have been|has been|are|were|was) (encrypted|locked|stolen|exfiltrated|downloaded|compromised|breached)/ nocase ascii wide
        $enc2 = /files (are|were) (encrypted|locked)/ nocase ascii wide
        $enc3 = "encrypted with strong" nocase ascii wide
        $enc4 = /we have (also )?downloaded/ nocase ascii wide
        $enc5 = /we (have )?(exfiltrated|downloaded|stolen|copied)/ nocase ascii wide
        $pay1 = /decrypt(ion|or)? (key|tool|software|program)/ nocase ascii wide
        $pay2 = /(bitcoin|btc|monero|xmr) (wallet|address)/ nocase ascii wide
        $pay3 = /\b[a-z2-7]{56}\.onion\b/ nocase ascii wide
        $pay4 = /\b[a-z2-7]{16}\.onion\b/ nocase ascii wide
        $pay5 = "tor browser" nocase ascii wide
        $pay6 = /(personal|unique|your|victim) (id|key|identifier)\s*[:=]/ nocase ascii wide
        $pay7 = /(contact us|write to us|open our chat|our chat|contact:|tox( id)?:)/ nocase ascii wide
        $pay8 = /free(ly)? decrypt|decrypt[^.\n]{0,30}for free|test decryption/ nocase ascii wide
        $thr1 = /(leak|blog|news) (site|page)|will be (published|leaked|sold)|go public/ nocase ascii wide
        $thr2 = /do not (rename|modify|try to|use third|attempt)/ nocase ascii wide
        $thr3 = /within \d+ (hours|days)|\d+ hours/ nocase ascii wide
        $thr4 = /(lose|lost) (your )?(data|files) (forever|permanently)/ nocase ascii wide
    condition:
        filesize < 2MB and
        1 of ($enc*) and 2 of ($pay*) and 1 of ($thr*)
}

rule kintsugi_ransom_note_ja
{
    meta:
        description = "Ransom note (Japanese, UTF-8, Shift-JIS or UTF-16): encryption claim combined with payment or contact instructions"
        author = "kintsugi"
        severity = "high"
        verdict = "malicious"
        attack = "T1486"
    strings:
        // 暗号化されています / 暗号化されました
        $enc_u8a = "暗号化されています"
        $enc_u8b = "暗号化されました"
        $enc_sja = { 88 c3 8d 86 89 bb 82 b3 82 ea 82 c4 82 a2 82 dc 82 b7 }
        $enc_sjb = { 88 c3 8d 86 89 bb 82 b3 82 ea 82 dc 82 b5 82 bd }
        $enc_u16a = { 97 66 f7 53 16 53 55 30 8c 30 66 30 44 30 7e 30 59 30 }
        $enc_u16b = { 97 66 f7 53 16 53 55 30 8c 30 7e 30 57 30 5f 30 }
        // ネットワークは侵害
        $enc_u8c = "ネットワークは侵害"
        $enc_sjc = { 83 6c 83 62 83 67 83 8f 81 5b 83 4e 82 cd 90 4e 8a 51 }
        $enc_u16c = { cd 30 c3 30 c8 30 ef 30 fc 30 af 30 6f 30 b5 4f b3 5b }
        // 復号 (decrypt), 身代金 (ransom), ビットコイン (bitcoin)
        $pay_u8a = "復号"
        $pay_sja = { 95 9c 8d 86 }
        $pay_u16a = { a9 5f f7 53 }
        $pay_u8b = "身代金"
        $pay_sjb = { 90 67 91 e3 8b e0 }
        $pay_u16b = { ab 8e e3 4e d1 91 }
        $pay_u8c = "ビットコイン"
        $pay_sjc = { 83 72 83 62 83 67 83 52 83 43 83 93 }
        $pay_u16c = { d3 30 c3 30 c8 30 b3 30 a4 30 f3 30 }
        $pay_onion = /\b[a-z2-7]{16}([a-z2-7]{40})?\.onion\b/ nocase ascii wide
        $pay_tor = /tor ?(browser|ブラウザ)/ nocase ascii wide
        // リークサイト (leak site), データを公開 (publish the data)
        $thr_u8a = "リークサイト"
        $thr_sja = { 83 8a 81 5b 83 4e 83 54 83 43 83 67 }
        $thr_u16a = { ea 30 fc 30 af 30 b5 30 a4 30 c8 30 }
        $thr_u8b = "データを公開"
        $thr_sjb = { 83 66 81 5b 83 5e 82 f0 8c f6 8a 4a }
        $thr_u16b = { c7 30 fc 30 bf 30 92 30 6c 51 8b 95 }
        $thr_u8c = "公開します"
    condition:
        filesize < 2MB and
        1 of ($enc*) and 2 of ($pay*) and 1 of ($thr*)
}
