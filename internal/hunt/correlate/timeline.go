package correlate

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// TimelineHeader is the timeline CSV's header: the columns Timeline
// Explorer users know from Hayabusa first, then kintsugi's own.
var TimelineHeader = []string{"Timestamp", "Computer", "Channel", "EventID", "Level", "RuleTitle", "Details",
	"RecordID", "RuleID", "Engine", "Category", "Techniques", "Account", "Source", "EvidenceFile"}

// TimestampLayout is how the timeline writes times (in the site's zone,
// with its offset, which Timeline Explorer parses).
const TimestampLayout = "2006-01-02 15:04:05.000 -07:00"

// WriteTimelineCSV writes detections, in the order given, as a timeline
// CSV with times in loc.
func WriteTimelineCSV(w io.Writer, ds []hunt.Detection, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(TimelineHeader); err != nil {
		return err
	}
	for _, d := range ds {
		details := d.Details
		if d.Context != "" {
			details += " [" + d.Context + "]"
		}
		if d.Count > 1 {
			details += fmt.Sprintf(" (x%d until %s)", d.Count, d.Last.In(loc).Format(TimestampLayout))
		}
		eventID := ""
		if d.Event.EventID != 0 {
			eventID = fmt.Sprint(d.Event.EventID)
		}
		recordID := ""
		if d.Event.RecordID != 0 {
			recordID = fmt.Sprint(d.Event.RecordID)
		}
		row := []string{d.Time.In(loc).Format(TimestampLayout), d.Host, d.Event.Channel, eventID, string(d.Severity),
			d.Title, csvSafe(details), recordID, d.RuleID, d.Engine, string(d.Category), strings.Join(d.Techniques, " "),
			csvSafe(d.Account), csvSafe(d.Source), d.Event.Source}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps attacker-controlled text (command lines, user names)
// from being run as a formula by a spreadsheet.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
