// Package demo builds a small, harmless sample server for `kintsugi demo`
// and for tests: intact media and office files in real formats, copies
// damaged the way ransomware damages files (whole, head only, striped,
// percentage with a key footer), ransom notes in English and Japanese, the
// EICAR test file, a leftover rclone configuration and sample logs. Nothing
// in it is malicious.
package demo

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Layout says what was written where, for the demo's narration and for
// tests.
type Layout struct {
	Root      string
	Intact    []string
	Damaged   []string
	Notes     []string
	Malicious []string
	Suspect   []string
	Logs      string
}

// Build writes the sample server "fs01" under dir and returns its layout.
// The content is the same for the same seed.
func Build(dir string, seed uint64) (*Layout, error) {
	b := &builder{root: filepath.Join(dir, "fs01"), rng: rand.New(rand.NewPCG(seed, 0x6b696e74))}
	l := &Layout{Root: b.root, Logs: filepath.Join(dir, "logs")}
	intact := []struct {
		path string
		data []byte
	}{
		{"projects/2025-12_CM/shot_001.mp4", b.mp4(600 << 10)},
		{"projects/2025-12_CM/shot_002.mp4", b.mp4(300 << 10)},
		{"projects/2025-12_CM/still_001.png", b.png(640, 360)},
		{"projects/2025-12_CM/still_002.jpg", b.jpeg(800, 450)},
		{"projects/2025-12_CM/mix.wav", b.wav(3)},
		{"office/見積書_2025.docx", b.docx("見積書 株式会社サンプル 映像編集一式 ご確認ください。")},
		{"office/請求書.pdf", b.pdf("Invoice 2025-12 post-production services")},
		{"office/顧客リスト.csv", b.csv(400)},
		{"office/議事録.txt", []byte(strings.Repeat("編集会議の議事録。納品は月末、字幕と色調整を確認。\n", 80))},
	}
	for _, f := range intact {
		if err := b.write(f.path, f.data); err != nil {
			return nil, err
		}
		l.Intact = append(l.Intact, filepath.Join(b.root, f.path))
	}
	// The damaged copies: the same kinds of file, encrypted the ways
	// ransomware families do it.
	damaged := []struct {
		src, ext string
		damage   func([]byte) []byte
	}{
		{"projects/2025-12_CM/shot_001.mp4", ".lockbit", b.head(4096)},
		{"projects/2025-12_CM/shot_002.mp4", ".akira", b.percent(50, 4, 534)},
		{"projects/2025-12_CM/still_001.png", ".basta", b.stripes(64, 128)},
		{"projects/2025-12_CM/mix.wav", "", b.percent(20, 5, 0)},
		{"office/見積書_2025.docx", ".akira", b.full(534)},
		{"office/請求書.pdf", ".lockbit", b.full(0)},
		{"office/顧客リスト.csv", ".lockbit", b.head(4096)},
	}
	for _, d := range damaged {
		src := filepath.Join(b.root, d.src)
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		rel := filepath.Join("encrypted", d.src+d.ext)
		if err := b.write(rel, d.damage(data)); err != nil {
			return nil, err
		}
		l.Damaged = append(l.Damaged, filepath.Join(b.root, rel))
	}
	notes := map[string]string{
		"encrypted/projects/README_TO_DECRYPT.txt": noteEN(b.rng),
		"encrypted/office/復元方法.txt":                noteJA(b.rng),
	}
	for rel, text := range notes {
		if err := b.write(rel, []byte(text)); err != nil {
			return nil, err
		}
		l.Notes = append(l.Notes, filepath.Join(b.root, rel))
	}
	if err := b.write("tmp/eicar.com", EICAR()); err != nil {
		return nil, err
	}
	l.Malicious = append(l.Malicious, filepath.Join(b.root, "tmp/eicar.com"))
	rclone := "[mega]\ntype = mega\nuser = backup-2025@example.invalid\npass = kQ3XlLz0example\n"
	if err := b.write("tmp/.config/rclone/rclone.conf", []byte(rclone)); err != nil {
		return nil, err
	}
	l.Suspect = append(l.Suspect, filepath.Join(b.root, "tmp/.config/rclone/rclone.conf"))
	if err := writeLogs(l.Logs); err != nil {
		return nil, err
	}
	// Old, stable times, as on a real share.
	t0 := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	for i, p := range l.Intact {
		os.Chtimes(p, t0, t0.Add(time.Duration(i)*time.Hour))
	}
	enc := time.Date(2025, 12, 7, 2, 14, 0, 0, time.UTC)
	for i, p := range append(append([]string{}, l.Damaged...), l.Notes...) {
		os.Chtimes(p, enc, enc.Add(time.Duration(i)*7*time.Second))
	}
	return l, nil
}

// EICAR returns the anti-virus test file, assembled at run time so that
// the kintsugi binary itself never contains it.
func EICAR() []byte {
	parts := []string{`X5O!P%@AP[4\PZX54(P^)7CC)7}$`, `EICAR-STANDARD-`, `ANTIVIRUS-TEST-FILE!$H+H*`}
	return []byte(strings.Join(parts, ""))
}

type builder struct {
	root string
	rng  *rand.Rand
}

func (b *builder) write(rel string, data []byte) error {
	p := filepath.Join(b.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

func (b *builder) random(n int) []byte {
	out := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(out[i:], b.rng.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		out[i] = byte(b.rng.Uint32())
	}
	return out
}

// --- damage patterns ---------------------------------------------------

func (b *builder) full(footer int) func([]byte) []byte {
	return func(d []byte) []byte { return append(b.random(len(d)), b.random(footer)...) }
}

func (b *builder) head(n int) func([]byte) []byte {
	return func(d []byte) []byte {
		out := append([]byte{}, d...)
		copy(out, b.random(min(n, len(out))))
		return out
	}
}

func (b *builder) stripes(chunk, skip int) func([]byte) []byte {
	return func(d []byte) []byte {
		out := append([]byte{}, d...)
		for off := 0; off < len(out); off += chunk + skip {
			copy(out[off:], b.random(min(chunk, len(out)-off)))
		}
		return out
	}
}

func (b *builder) percent(pct, chunks, footer int) func([]byte) []byte {
	return func(d []byte) []byte {
		out := append([]byte{}, d...)
		piece := len(out) * pct / 100 / chunks
		for j := range chunks {
			off := j * len(out) / chunks
			copy(out[off:], b.random(min(piece, len(out)-off)))
		}
		return append(out, b.random(footer)...)
	}
}

// --- intact files in real formats ----------------------------------------

func box(typ string, payload ...[]byte) []byte {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	out := make([]byte, 8, n)
	binary.BigEndian.PutUint32(out, uint32(n))
	copy(out[4:], typ)
	for _, p := range payload {
		out = append(out, p...)
	}
	return out
}

// mp4 writes an ISO-BMFF file: ftyp, an mdat of compressed-looking
// payload, and a moov with a movie header, as cameras and editors do.
func (b *builder) mp4(size int) []byte {
	ftyp := box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2avc1mp41"))
	mvhd := make([]byte, 100)
	binary.BigEndian.PutUint32(mvhd[12:], 1000)  // timescale
	binary.BigEndian.PutUint32(mvhd[16:], 10000) // duration
	binary.BigEndian.PutUint32(mvhd[20:], 0x00010000)
	binary.BigEndian.PutUint16(mvhd[24:], 0x0100)
	binary.BigEndian.PutUint32(mvhd[96:], 2)
	tkhd := make([]byte, 84)
	tkhd[3] = 3
	mdhd := make([]byte, 24)
	binary.BigEndian.PutUint32(mdhd[12:], 25)
	hdlr := append(make([]byte, 8), []byte("vide\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00VideoHandler\x00")...)
	moov := box("moov", box("mvhd", mvhd), box("trak", box("tkhd", tkhd), box("mdia", box("mdhd", mdhd), box("hdlr", hdlr))))
	return append(append(ftyp, box("mdat", b.random(size))...), moov...)
}

func (b *builder) picture(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(b.rng.IntN(24))
			img.Set(x, y, color.RGBA{uint8(x*255/w) ^ n, uint8(y*255/h) + n, uint8((x + y) % 256), 255})
		}
	}
	return img
}

func (b *builder) png(w, h int) []byte {
	var buf bytes.Buffer
	png.Encode(&buf, b.picture(w, h))
	return buf.Bytes()
}

func (b *builder) jpeg(w, h int) []byte {
	var buf bytes.Buffer
	jpeg.Encode(&buf, b.picture(w, h), &jpeg.Options{Quality: 88})
	return buf.Bytes()
}

func (b *builder) wav(seconds int) []byte {
	const rate = 48000
	n := rate * seconds
	data := make([]byte, 2*n)
	for i := range n {
		v := int16(8000*math.Sin(2*math.Pi*440*float64(i)/rate) + float64(b.rng.IntN(400)-200))
		binary.LittleEndian.PutUint16(data[2*i:], uint16(v))
	}
	fmtChunk := make([]byte, 16)
	binary.LittleEndian.PutUint16(fmtChunk[0:], 1)
	binary.LittleEndian.PutUint16(fmtChunk[2:], 1)
	binary.LittleEndian.PutUint32(fmtChunk[4:], rate)
	binary.LittleEndian.PutUint32(fmtChunk[8:], rate*2)
	binary.LittleEndian.PutUint16(fmtChunk[12:], 2)
	binary.LittleEndian.PutUint16(fmtChunk[14:], 16)
	var out bytes.Buffer
	out.WriteString("RIFF")
	binary.Write(&out, binary.LittleEndian, uint32(4+8+16+8+len(data)))
	out.WriteString("WAVEfmt ")
	binary.Write(&out, binary.LittleEndian, uint32(16))
	out.Write(fmtChunk)
	out.WriteString("data")
	binary.Write(&out, binary.LittleEndian, uint32(len(data)))
	out.Write(data)
	return out.Bytes()
}

func (b *builder) docx(text string) []byte {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	files := []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{"word/document.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			strings.Repeat("<w:p><w:r><w:t>"+text+"</w:t></w:r></w:p>", 60) + `</w:body></w:document>`},
	}
	for _, f := range files {
		w, _ := z.Create(f.name)
		w.Write([]byte(f.body))
	}
	z.Close()
	return buf.Bytes()
}

// pdf writes a one-page PDF with a correct cross-reference table.
func (b *builder) pdf(text string) []byte {
	var out bytes.Buffer
	out.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	content := fmt.Sprintf("BT /F1 14 Tf 72 760 Td (%s) Tj ET\n", text)
	for i := range 40 {
		content += fmt.Sprintf("BT /F1 10 Tf 72 %d Td (line %d of the invoice details) Tj ET\n", 730-i*16, i)
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return out.Bytes()
}

func (b *builder) csv(rows int) []byte {
	var out bytes.Buffer
	out.WriteString("id,顧客名,電話番号,住所,金額\n")
	names := []string{"山田太郎", "佐藤花子", "鈴木一郎", "田中美咲", "高橋健"}
	for i := range rows {
		fmt.Fprintf(&out, "%d,%s,03-%04d-%04d,東京都港区%d-%d,%d\n", i, names[i%len(names)], b.rng.IntN(10000), b.rng.IntN(10000), 1+i%9, 1+i%20, b.rng.IntN(1000000))
	}
	return out.Bytes()
}

func randomID(rng *rand.Rand, n int, alphabet string) string {
	var s strings.Builder
	for range n {
		s.WriteByte(alphabet[rng.IntN(len(alphabet))])
	}
	return s.String()
}

func noteEN(rng *rand.Rand) string {
	onion := randomID(rng, 56, "abcdefghijklmnopqrstuvwxyz234567")
	return "---=== YOUR NETWORK HAS BEEN BREACHED ===---\n" +
		"All files on your servers have been encrypted, and we have downloaded 412 GB of your data.\n" +
		"Do not rename or modify the encrypted files: you will lose them forever.\n" +
		"To get the decryption key, open our chat in Tor Browser: http://" + onion + ".onion/\n" +
		"Your personal ID: " + randomID(rng, 32, "0123456789ABCDEF") + "\n" +
		"If you do not contact us within 72 hours, your data will be published on our leak site.\n" +
		"(This is a harmless sample note written by kintsugi demo.)\n"
}

func noteJA(rng *rand.Rand) string {
	onion := randomID(rng, 56, "abcdefghijklmnopqrstuvwxyz234567")
	return "【重要】あなたの会社のネットワークは侵害されました。\nサーバー上のファイルはすべて暗号化されています。\n" +
		"復号キーを入手するには、Torブラウザで http://" + onion + ".onion/ にアクセスしてください。\n" +
		"72時間以内に連絡がない場合、データをリークサイトで公開します。\n（これは kintsugi demo が作成した無害なサンプルです。）\n"
}

// writeLogs writes sample Linux authentication logs of the attack: a
// password-guessing burst against the administrator account, then a
// successful logon from the same source, then sudo to root.
func writeLogs(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "fs01"), 0o755); err != nil {
		return err
	}
	var s strings.Builder
	t := time.Date(2025, 12, 7, 1, 58, 0, 0, time.UTC)
	line := func(d time.Duration, msg string) {
		fmt.Fprintf(&s, "%s fs01 %s\n", t.Add(d).Format(time.Stamp), msg)
	}
	line(0, "sshd[2101]: Accepted publickey for backup from 10.0.5.20 port 50122 ssh2: ED25519 SHA256:abc")
	for i := range 12 {
		line(time.Duration(60+i*3)*time.Second, fmt.Sprintf("sshd[%d]: Failed password for admin from 203.0.113.45 port %d ssh2", 2200+i, 41000+i))
	}
	line(100*time.Second, "sshd[2230]: Accepted password for admin from 203.0.113.45 port 41020 ssh2")
	line(130*time.Second, "sudo:    admin : TTY=pts/0 ; PWD=/home/admin ; USER=root ; COMMAND=/bin/bash")
	line(900*time.Second, "sshd[2301]: Received disconnect from 203.0.113.45 port 41020:11: disconnected by user")
	p := filepath.Join(dir, "fs01", "auth.log")
	if err := os.WriteFile(p, []byte(s.String()), 0o644); err != nil {
		return err
	}
	// The year of syslog lines comes from the file's time.
	end := t.Add(time.Hour)
	return os.Chtimes(p, end, end)
}
