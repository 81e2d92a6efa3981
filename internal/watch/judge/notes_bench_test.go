package judge

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkNotes: matching the head of an ordinary document against the
// note rules, as the agent does for every text-like file a process
// writes (the bench corpus's documents are Japanese text).
func BenchmarkNotes(b *testing.B) {
	n, err := NewNotes()
	if err != nil {
		b.Skip("YARA unavailable:", err)
	}
	defer n.Close()
	words := []string{"請求", "会議", "編集", "社外秘", "住所", "納品", "確認", "字幕", "案件", "見積", "進行", "顧客", "修正", "個人情報", "担当", "色調整", "契約"}
	var sb strings.Builder
	for i := 0; sb.Len() < NoteHead; i++ {
		sb.WriteString(words[(i*7+i/3)%len(words)])
		if i%15 == 14 {
			sb.WriteString("\n")
		} else {
			sb.WriteString(" ")
		}
	}
	doc := []byte(sb.String())[:NoteHead]
	b.SetBytes(int64(len(doc)))
	for range b.N {
		if _, err := n.Match(context.Background(), doc, "docs/report.txt"); err != nil {
			b.Fatal(err)
		}
	}
}
