package damage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"testing"
	"unicode/utf16"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// TestTinyFiles: a few bytes of text are never ciphertext, whatever the
// name; a few random bytes are not called intact text either when the
// name says text and they cannot be text.
func TestTinyFiles(t *testing.T) {
	for _, tc := range []struct {
		name, content string
	}{
		{"a.txt", "public"},
		{"b.txt", "x"},
		{"c.csv", "id,name\n1,a\n"},
		{"d.txt", "public key file!"},
		{"e.txt", "見積書"},
		{"f.json", `{"ok":true}`},
		{"g.conf", "[remote]\ntype=s3"},
	} {
		r, err := Classify(context.Background(), bytes.NewReader([]byte(tc.content)), int64(len(tc.content)), tc.name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != incident.Clean {
			t.Errorf("%s %q: %s (%s)", tc.name, tc.content, r.Verdict, r.Reason)
		}
	}
	// 64 random bytes named .txt are still caught.
	b := make([]byte, 64)
	rand.Read(b)
	b[0] |= 0x80 // not accidentally text
	r, _ := Classify(context.Background(), bytes.NewReader(b), 64, "note.txt", Options{})
	if r.Verdict != incident.Encrypted {
		t.Errorf("64 random bytes named .txt: %s (%s)", r.Verdict, r.Reason)
	}
}

// Short random files named as text are ciphertext, never UTF-16 text by
// chance (32 random code units avoid surrogates and private use often
// enough that the encoding's own rules let one in 70 through).
func TestShortRandomIsNotUTF16(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(7, 8))
	passed := 0
	for i := 0; i < 3000; i++ {
		b := make([]byte, 64)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		b[0] |= 0x80
		r, err := Classify(context.Background(), bytes.NewReader(b), 64, "note.txt", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != incident.Encrypted {
			passed++
			if passed < 5 {
				t.Errorf("random bytes % x: %s (%s)", b, r.Verdict, r.Reason)
			}
		}
	}
	if passed > 0 {
		t.Errorf("%d of 3000 random 64-byte files not called encrypted", passed)
	}
}

// UTF-16 text without a byte-order mark, in either byte order, is
// recognised in the scripts it is written in.
func TestUTF16TextWithoutBOM(t *testing.T) {
	for _, text := range []string{
		"Quarterly report: all servers restored from backup on 2025-12-20.\r\n",
		"見積書の送付について。ご確認のほど、よろしくお願いいたします。",
		"映像素材 ShotList_第3話 (最終版) 2025年12月、編集部より。",
		"서버 점검 안내: 12월 20일 오전 2시부터 작업이 진행됩니다.",
		"Отчёт о восстановлении серверов после инцидента, декабрь.",
		"Ο διακομιστής αποκαταστάθηκε από αντίγραφο ασφαλείας.",
		"服务器已从备份中恢复，请各部门确认数据完整。",
		"手順①〜③ → 完了 ✔ ├── 映像 └── 音声 😀👍 ★★★ ①②③④⑤",
	} {
		units := utf16.Encode([]rune(text))
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			b := make([]byte, 2*len(units))
			for i, u := range units {
				order.PutUint16(b[2*i:], u)
			}
			r, err := Classify(context.Background(), bytes.NewReader(b), int64(len(b)), "memo.txt", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != incident.Clean {
				t.Errorf("%s, %v: %s (%s)", text, order, r.Verdict, r.Reason)
			}
		}
	}
}
